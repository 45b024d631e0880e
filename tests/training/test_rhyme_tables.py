"""training/rhyme_tables.py: the propagation on a toy corpus, and the committed tables rebuilt from the real data."""

import json
from pathlib import Path

import pytest

from training.data.poems import PACKAGE
from training.data.sources import npm_pack
from training.rhyme_tables import pingshui_table, propagate, rhyme_characters, xinyun_table

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = json.loads((ROOT / "models" / "poem" / "rhymes.json").read_text(encoding="utf-8"))
VOCABULARY = set(json.loads((ROOT / "models" / "poem" / "vocab.json").read_text(encoding="utf-8"))["tokens"])


def test_rhyme_characters_are_the_first_and_the_even_line_ends():
    assert rhyme_characters("床前明月光，疑是地上霜。举头望明月，低头思故乡。") == ("光", ["霜", "乡"])


def test_a_label_spreads_through_poems_that_agree_and_not_through_one_that_disagrees():
    seeds = {"东": {0}, "中": {0}, "江": {1}, "窗": {1}}
    agreeing = [("x", ["东", "中", "风"])] * 3  # 风 co-rhymes three times with two labelled characters of group 0
    mixed = [("x", ["东", "江", "雨"])] * 5  # labelled characters of two groups: these poems do not vote
    lonely = [("x", ["东", "月"])] * 5  # one labelled character is too little to vote (MIN_KNOWN)
    labels = propagate(agreeing + mixed + lonely, seeds)
    assert labels["风"] == {0}
    assert "雨" not in labels and "月" not in labels
    assert {char: labels[char] for char in seeds} == seeds  # seeds never change


@pytest.fixture(scope="module")
def tarball():
    return npm_pack(*PACKAGE, ROOT / "data" / ".cache")


@pytest.mark.training
def test_the_committed_pingshui_table_is_what_the_data_gives_and_meets_its_accuracy(tarball):
    table = pingshui_table(ROOT / "data" / "poems" / "poems.txt", tarball, VOCABULARY)
    assert table == COMMITTED["pingshui"]
    accuracy = table["accuracy"]
    assert accuracy["held_out_accuracy"] >= 0.95 and accuracy["held_out_coverage"] >= 0.8
    assert accuracy["odd_line_ends_called_oblique"] >= 0.9
    assert [g["section"] for g in table["groups"]] == ["上平"] * 15 + ["下平"] * 15


def test_the_committed_xinyun_table_is_what_pypinyin_gives():
    assert xinyun_table(VOCABULARY) == COMMITTED["xinyun"]
