"""The rhyme tables (models/poem/rhymes.json, from training/rhyme_tables.py) and the tone patterns of regulated verse.

Two rhyme systems, both over the poem model's vocabulary:
- `pingshui` (平水韵), Tang regulated verse's: 30 level-tone groups; a character in none of them is oblique (仄).
- `xinyun` (中华新韵), modern Mandarin's: 14 groups from the pinyin final; level = tones 1 and 2.

The tone patterns (平仄) are the four line types of 五言 regulated verse and their 七言 forms, chained by the
rules of 粘 and 对 into the four standard patterns of a 绝句 (and twice over, a 律诗): 平起 or 仄起, with the
first line rhyming or not.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

RHYMES_FILE = "rhymes.json"
SUBCLASSES = 3  # finals kept apart within one xinyun group, at most (十二齐: i, ü, er)
RHYME_SYSTEMS = ("pingshui", "xinyun")
LEVEL, OBLIQUE, ANY = "平", "仄", "*"

# The four line types of 五言 verse; a 七言 line puts two characters of the other tone in front.
FIVE_CHARACTER_TYPES = {"A": "仄仄平平仄", "B": "平平仄仄平", "C": "平平平仄仄", "D": "仄仄仄平平"}
# 粘对 chains the types: after A comes B, then C, then D, then A again; lines 2, 4, … end level and rhyme.
# A poem starting on A (仄起) or C (平起) whose first line rhymes swaps that line for D or B (same opening, level end).
NEXT_TYPE = {"A": "B", "B": "C", "C": "D", "D": "A"}
RHYMING_FIRST_LINE = {"A": "D", "C": "B"}
# 一三五不论: in a 七言 line the 1st, 3rd and 5th characters are free under `loose` (the 1st and 3rd of a 五言 line).
LOOSE_POSITIONS = {5: (0, 2), 7: (0, 2, 4)}


@dataclass(frozen=True)
class RhymeTable:
    """One rhyme system: its group names, each level character's groups, and which characters are oblique.

    `classes_of` is what decoding rhymes within: the groups themselves, except where a group joins finals that
    a careful poet keeps apart (中华新韵's 二波 joins e with o/uo, 十二齐 joins i, ü and er): there each final
    is a class of its own, so a poem stays in one group *and* one final (严韵). Reports speak of groups.
    """

    name: str
    group_names: tuple[str, ...]
    groups_of: dict[str, tuple[int, ...]]  # level characters only
    oblique: frozenset[str] | None  # None: every character that is not level is oblique (pingshui)
    classes_of: dict[str, tuple[int, ...]]  # level characters only
    class_count: int

    def tone(self, char: str) -> str | None:
        """平, 仄, or None when the table does not know the character."""
        if char in self.groups_of:
            return LEVEL
        if self.oblique is None or char in self.oblique:
            return OBLIQUE
        return None

    def rhymes(self, char: str, group: int) -> bool:
        return group in self.groups_of.get(char, ())


def load_rhyme_tables(path: Path | str | dict) -> dict[str, RhymeTable]:
    """Both tables from rhymes.json (parsed JSON, or a path to it); a malformed one raises ValueError."""
    data = json.loads(Path(path).read_text(encoding="utf-8")) if isinstance(path, Path | str) else path
    try:
        return _tables(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{RHYMES_FILE} is not a valid rhyme table ({type(exc).__name__}: {exc})") from exc


def _tables(data: dict) -> dict[str, RhymeTable]:
    pingshui = data["pingshui"]
    names = tuple(f"{group['section']}{group['name']}" for group in pingshui["groups"])
    groups = {c: tuple(g) for c, g in pingshui["chars"].items()}
    tables = {"pingshui": RhymeTable("pingshui", names, groups, None, groups, len(names))}
    xinyun = data["xinyun"]
    level = {char: (group,) for char, (group, is_level, _) in xinyun["chars"].items() if is_level}
    finals = {char: (group * SUBCLASSES + final,) for char, (group, is_level, final) in xinyun["chars"].items()
              if is_level}  # fmt: skip
    oblique = frozenset(char for char, (_, is_level, _) in xinyun["chars"].items() if not is_level)
    names = tuple(g["name"] for g in xinyun["groups"])
    tables["xinyun"] = RhymeTable("xinyun", names, level, oblique, finals, len(names) * SUBCLASSES)
    if len(tables["pingshui"].group_names) != 30 or len(tables["xinyun"].group_names) != 14:
        raise ValueError("expected 30 pingshui and 14 xinyun groups")
    return tables


def line_pattern(line_type: str, length: int, loose: bool) -> str:
    """The 平仄 of one line, with ANY where `loose` frees a position (the last character is never free)."""
    five = FIVE_CHARACTER_TYPES[line_type]
    pattern = five if length == 5 else (OBLIQUE * 2 if five[0] == LEVEL else LEVEL * 2) + five
    if loose:
        pattern = "".join(ANY if i in LOOSE_POSITIONS[length] else tone for i, tone in enumerate(pattern))
    return pattern


def standard_forms(line_num: int, length: int) -> dict[str, list[str]]:
    """The standard patterns as line types per line, named as poets name them: 仄起 or 平起 by the tone of the
    first line's second character (so a 七言 poem on type A is 平起), first line rhyming (入韵) or not."""
    forms = {}
    for start in ("A", "C"):
        types = [start]
        while len(types) < line_num:
            types.append(NEXT_TYPE[types[-1]])
        label = "仄起" if line_pattern(start, length, loose=False)[1] == OBLIQUE else "平起"
        forms[f"{label}首句不入韵"] = types
        forms[f"{label}首句入韵"] = [RHYMING_FIRST_LINE[start], *types[1:]]
    return forms
