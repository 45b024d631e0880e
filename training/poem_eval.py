"""The poem section of `make eval`: rhyme, tones and fluency over sampled poems (fixed seeds).

For each setting — free (rhyme and tones off), rhyme="pingshui", rhyme="xinyun", pingshui with tones="strict" —
POEMS poems are written by the service's own generator (4/8 lines × 5/7 characters in turn), and measured:
- form: the requested number of lines and characters, "，" and "。" alternating;
- rhyme rate: the even lines' last characters share a group of the table (and, for xinyun, an independent
  modern-pinyin check: the same final once the medial i/u/ü is dropped, and a level tone 1 or 2);
- tone-pattern rate: every character fits one of the standard 平仄 patterns (strict);
- repeated rhyme characters: a poem that ends two rhyming lines on the same character;
- fluency: mean log-probability per token of each poem under the model (teacher-forced, <bos> to the last "。"),
  constrained against free poems; the loss is (free − constrained) ÷ |free|.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch

from app.predictors.poem_generation import PoemGenerator, PoemSpec
from app.predictors.rhymes import ANY, RHYMES_FILE, RhymeTable, line_pattern, load_rhyme_tables, standard_forms

POEMS = 500
SETTINGS = {"free": ("none", "none"), "pingshui": ("pingshui", "none"), "xinyun": ("xinyun", "none"),
            "pingshui+strict": ("pingshui", "strict")}  # fmt: skip
FORMS = [(4, 5), (4, 7), (8, 5), (8, 7)]
TARGETS = {"pingshui rhyme": 0.99, "xinyun rhyme": 0.99, "xinyun pinyin check": 0.95, "strict pattern": 0.95}
MAX_FLUENCY_LOSS = 0.10
SAMPLES_PER_FORM = 1  # poems printed per form and setting


def rhymes_under(table: RhymeTable, lines: list[str]) -> bool:
    groups = [set(table.groups_of.get(line[-2], ())) for line in lines[1::2]]
    return bool(set.intersection(*groups))


def pinyin_rhyme_key(char: str) -> tuple[str, bool] | None:
    """(final without its medial, level tone?) from pypinyin: a rough modern check, independent of the table."""
    from pypinyin import Style, pinyin

    found = pinyin(char, style=Style.FINALS_TONE3, strict=True, errors="ignore")  # strict: ü as v, not u
    if not found or not found[0] or not found[0][0][-1:].isdigit():
        return None
    final, tone = found[0][0][:-1], int(found[0][0][-1])
    if len(final) > 1 and final[0] in "iuv" and final[1] in "aeo":
        final = final[1:]  # ia/ua -> a, iang/uang -> ang, uo -> o, ie/ve -> e …
    final = {"iu": "ou", "ui": "ei", "in": "en", "un": "en", "vn": "en", "ing": "eng", "ong": "eng"}.get(final, final)
    return final, tone in (1, 2)


def pinyin_rhymes(lines: list[str]) -> bool:
    keys = [pinyin_rhyme_key(line[-2]) for line in lines[1::2]]
    return all(keys) and len({k[0] for k in keys}) == 1 and all(k[1] for k in keys)  # type: ignore[index]


def fits_a_pattern(table: RhymeTable, lines: list[str], line_num: int, length: int) -> bool:
    return any(
        all(symbol == ANY or table.tone(char) == symbol
            for line, kind in zip(lines, types, strict=True)
            for char, symbol in zip(line[:-1], line_pattern(kind, length, loose=False), strict=True))
        for types in standard_forms(line_num, length).values()
    )  # fmt: skip


@torch.inference_mode()
def mean_log_probability(model: Any, index: dict[str, int], bos: int, poems: list[str]) -> float:
    """Mean over poems of the mean log-probability per token, teacher-forced from <bos>."""
    per_poem = []
    by_length: dict[int, list[list[int]]] = {}
    for poem in poems:
        by_length.setdefault(len(poem), []).append([bos] + [index[ch] for ch in poem])
    for rows in by_length.values():
        tokens = torch.tensor(rows)
        logits, _ = model(tokens[:, :-1], model.initial_hidden(len(rows)))
        chosen = torch.log_softmax(logits.float(), -1).gather(2, tokens[:, 1:, None]).squeeze(2)
        per_poem += chosen.mean(dim=1).tolist()
    return sum(per_poem) / len(per_poem)


def evaluate_poems(model: Any, folder: Path, poems: int = POEMS) -> tuple[list[str], list[str]]:
    """(report lines, failed targets)."""
    tokens = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))["tokens"]
    tables = load_rhyme_tables(folder / RHYMES_FILE)
    generator = PoemGenerator(model, tokens, "cpu", tables)
    written: dict[str, list[tuple[PoemSpec, list[str]]]] = {}
    for name, (rhyme, tones) in SETTINGS.items():
        written[name] = []
        for seed in range(poems):
            line_num, length = FORMS[seed % len(FORMS)]
            spec = PoemSpec(seed=seed, line_num=line_num, line_length=length, rhyme=rhyme, tones=tones)
            written[name].append((spec, generator.generate(spec)["lines"]))

    def rate(name: str, check) -> float:
        return sum(bool(check(spec, lines)) for spec, lines in written[name]) / len(written[name])

    ping, xin = tables["pingshui"], tables["xinyun"]
    rates = {
        "form valid (all settings)": min(
            rate(name, lambda s, ls: len(ls) == s.line_num and all(len(x) == s.line_length + 1 for x in ls))
            for name in SETTINGS
        ),
        "free: rhymes under pingshui": rate("free", lambda s, ls: rhymes_under(ping, ls)),
        "free: passes the pinyin check": rate("free", lambda s, ls: pinyin_rhymes(ls)),
        "pingshui rhyme": rate("pingshui", lambda s, ls: rhymes_under(ping, ls)),
        "xinyun rhyme": rate("xinyun", lambda s, ls: rhymes_under(xin, ls)),
        "xinyun pinyin check": rate("xinyun", lambda s, ls: pinyin_rhymes(ls)),
        "strict pattern": rate("pingshui+strict", lambda s, ls: fits_a_pattern(ping, ls, s.line_num, s.line_length)),
        "strict rhyme": rate("pingshui+strict", lambda s, ls: rhymes_under(ping, ls)),
        "free: fits a strict pattern": rate("free", lambda s, ls: fits_a_pattern(ping, ls, s.line_num, s.line_length)),
    }
    repeated = {
        name: rate(name, lambda s, ls: len({x[-2] for x in ls[1::2]}) < len(ls[1::2]))
        for name in ("pingshui", "xinyun", "pingshui+strict")
    }
    index, bos = generator.index, generator.index["<bos>"]
    fluency = {name: mean_log_probability(model, index, bos, ["".join(ls) for _, ls in written[name]])
               for name in SETTINGS}  # fmt: skip
    report = [f"poems: {poems} per setting, seeds 0–{poems - 1}, forms {FORMS} in turn"]
    report += [f"  {name}: {value:.1%}" for name, value in rates.items()]
    report += [f"  repeated rhyme characters, {name}: {value:.1%}" for name, value in repeated.items()]
    free = fluency["free"]
    losses = {name: (free - value) / abs(free) for name, value in fluency.items() if name != "free"}
    report += [f"  mean log-probability per token, free: {free:.3f}"]
    report += [f"  … {name}: {fluency[name]:.3f} (fluency loss {loss:+.1%})" for name, loss in losses.items()]
    for name in SETTINGS:
        for form in FORMS:
            spec, lines = next((s, ls) for s, ls in written[name] if (s.line_num, s.line_length) == form)
            report.append(f"  sample, {name}, {form[0]}×{form[1]}, seed {spec.seed}: {''.join(lines)}")
    failed = [f"{name} {rates[name]:.1%} < {target:.0%}" for name, target in TARGETS.items() if rates[name] < target]
    failed += [f"repeated rhyme characters in {name}" for name, value in repeated.items() if value > 0]
    failed += [f"fluency loss {name} {loss:.1%}" for name, loss in losses.items() if loss > MAX_FLUENCY_LOSS]
    if rates["form valid (all settings)"] < 1:
        failed.append("a poem without the requested form")
    if not math.isfinite(free):
        failed.append("fluency is not finite")
    return report, failed
