"""Tang poems from the npm package chinese-poetry, as `poems.txt` (one poem per line, simplified).

The same package's Complete Song Poems (全宋诗) become `song_poems.txt` the same way: more poems of the
same forms for the poem model to learn from (the Tang file stays the one it is validated on).

We keep the regular forms the course generates — 4 or 8 lines (绝句 / 律诗) whose lines are all
5 or all 7 characters — with their original punctuation, so that a model trained on them can
learn where lines end. Poems with missing-character marks (□), editorial brackets, digits or
Latin letters are dropped: they are transcription artefacts, not poetry.
"""

from __future__ import annotations

import json
import re
import tarfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from training.data.images import CsvFormatError
from training.data.manifest import manifest_matches, write_manifest
from training.data.sources import SourceUnavailable, npm_pack

PACKAGE = ("chinese-poetry", "2.0.1")


@dataclass(frozen=True)
class PoemCollection:
    """One dynasty's poems in the package: which JSON files hold them and where they are written."""

    dynasty: str
    dataset: str  # the folder under data/
    file_name: str
    members: str  # the package's files, as a glob for messages

    @property
    def member_pattern(self) -> re.Pattern[str]:
        return re.compile("^" + re.escape(self.members).replace(r"\*", r"\d+") + "$")


TANG = PoemCollection("Tang", "poems", "poems.txt", "package/dist/quantangshi/poet.tang.*.json")
SONG = PoemCollection("Song", "poems-song", "song_poems.txt", "package/dist/quantangshi/poet.song.*.json")
DATASET, FILE_NAME = TANG.dataset, TANG.file_name

LINE_END = "，。！？；"  # punctuation that closes a line (句)
POEM_END = "。！？"
LINE_COUNTS = (4, 8)
LINE_LENGTHS = (5, 7)
_HAN = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_LINE = re.compile(rf"([{_HAN}]+)([{LINE_END}])")
_ARTEFACT = re.compile(r"[□■〇0-9０-９A-Za-zＡ-Ｚａ-ｚ()（）\[\]【】{}〔〕《》〈〉<>「」『』]")


def split_lines(poem: str) -> list[str] | None:
    """Split a poem into its lines (each with its closing mark), or None if it is not that shape."""
    lines = [m.group(0) for m in _LINE.finditer(poem)]
    return lines if "".join(lines) == poem else None


def rejection_reason(poem: str) -> str | None:
    """Why a poem is not kept (a short label), or None when it is a regular 4/8-line 5/7-character poem."""
    if not poem:
        return "empty"
    if _ARTEFACT.search(poem):
        return "artefacts (□, brackets, digits, Latin)"
    lines = split_lines(poem)
    if lines is None:
        return "irregular punctuation or characters"
    if len(lines) not in LINE_COUNTS:
        return f"not {' or '.join(map(str, LINE_COUNTS))} lines"
    lengths = {len(line) - 1 for line in lines}
    if len(lengths) != 1 or lengths.pop() not in LINE_LENGTHS:
        return "lines not all 5 or all 7 characters"
    if poem[-1] not in POEM_END:
        return "does not end a sentence"
    return None


def convert_poems(raw_poems: list[dict], to_simplified) -> tuple[list[str], Counter]:
    """Turn chinese-poetry records into simplified poems; returns (kept poems, rejection counts)."""
    kept, seen, reasons = [], set(), Counter()
    for record in tqdm(raw_poems, desc="  converting poems", unit="poem", leave=False):
        paragraphs = record.get("paragraphs") if isinstance(record, dict) else None
        if not isinstance(paragraphs, list) or not all(isinstance(p, str) for p in paragraphs):
            reasons["malformed record"] += 1
            continue
        poem = to_simplified("".join(p.strip() for p in paragraphs))
        reason = rejection_reason(poem)
        if reason is None and poem in seen:
            reason = "duplicate"
        if reason:
            reasons[reason] += 1
            continue
        seen.add(poem)
        kept.append(poem)
    return kept, reasons


def read_records(tgz: Path, collection: PoemCollection = TANG) -> list[dict]:
    """Read every poem record of one collection's JSON files (Complete Tang or Song Poems) in the tarball."""
    records = []
    pattern = collection.member_pattern
    with tarfile.open(tgz) as tar:
        members = [m for m in tar if pattern.match(m.name)]
        if not members:
            raise SourceUnavailable(f"{tgz.name} has no {collection.members} files")
        for member in tqdm(members, desc="  reading JSON", unit="file", leave=False):
            fh = tar.extractfile(member)
            assert fh is not None
            try:
                chunk = json.loads(fh.read().decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise SourceUnavailable(f"{member.name}: not valid JSON ({exc})") from exc
            if not isinstance(chunk, list):
                raise SourceUnavailable(f"{member.name}: expected a JSON list of poems")
            records.extend(chunk)
    return records


def traditional_to_simplified():
    try:
        import opencc
    except ImportError as exc:
        raise SourceUnavailable("the Python package `opencc` is needed to convert to simplified Chinese") from exc
    return opencc.OpenCC("t2s").convert


def verify_poems_file(path: Path) -> int:
    """Every line must be one regular poem; returns the poem count."""
    poems = Path(path).read_text(encoding="utf-8").splitlines()
    for number, poem in enumerate(poems, start=1):
        if (reason := rejection_reason(poem)) is not None:
            raise CsvFormatError(f"{path}:{number}: not a regular 4/8-line 5/7-character poem ({reason})")
    if not poems:
        raise CsvFormatError(f"{path}: no poems")
    return len(poems)


def build_poems(data_dir: Path, cache: Path, collection: PoemCollection = TANG) -> dict[str, int]:
    out, name = Path(data_dir) / collection.dataset, collection.file_name
    if (manifest := manifest_matches(out, [name])) is not None:
        return {name: manifest["files"][name]["rows"]}
    if (out / name).exists():
        rows = {name: verify_poems_file(out / name)}
        write_manifest(out, "user-supplied", rows)
        return rows
    records = read_records(npm_pack(*PACKAGE, cache), collection)
    poems, reasons = convert_poems(records, traditional_to_simplified())
    print(
        f"  {len(records):,} {collection.dynasty} poems read; kept {len(poems):,}; dropped: "
        + ", ".join(f"{reason} {count:,}" for reason, count in reasons.most_common())
    )
    out.mkdir(parents=True, exist_ok=True)
    part = out / (name + ".part")
    part.write_text("\n".join(poems) + "\n", encoding="utf-8")
    part.replace(out / name)
    rows = {name: verify_poems_file(out / name)}
    members = collection.members.removeprefix("package/")
    write_manifest(out, f"npm package {PACKAGE[0]}@{PACKAGE[1]} ({members}), OpenCC t2s", rows)
    return rows
