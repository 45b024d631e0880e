"""Rhyme- and tone-aware decoding with the committed poem model and rhyme tables: the rules hold on every poem."""

import json
import random
from pathlib import Path

import pytest

from app.models.torchscript import load_torchscript
from app.predictors.poem_decoding import rhyme_report
from app.predictors.poem_generation import PoemGenerator, PoemInputError, PoemSpec
from app.predictors.rhymes import ANY, LEVEL, OBLIQUE, RHYMES_FILE, line_pattern, load_rhyme_tables, standard_forms

MODEL_DIR = Path(__file__).resolve().parents[2] / "models" / "poem"
TABLES = load_rhyme_tables(MODEL_DIR / RHYMES_FILE)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def generator():
    tokens = json.loads((MODEL_DIR / "vocab.json").read_text(encoding="utf-8"))["tokens"]
    return PoemGenerator(load_torchscript(str(MODEL_DIR / "model.pt")), tokens, "cpu", TABLES)


def ends(lines):
    return [line[-2] for line in lines]


def assert_rhymes(result, spec):
    table = TABLES[spec.rhyme]
    lines = result["lines"]
    even = ends(lines)[1::2]
    shared = set.intersection(*(set(table.groups_of.get(c, ())) for c in even))
    assert shared, f"even lines do not share a group: {lines}"
    assert set.intersection(*(set(table.classes_of[c]) for c in even)), f"finals mixed within a group: {lines}"
    rhyming = [c for c, rhymes in zip(ends(lines), result["rhymes"], strict=True) if rhymes]
    assert len(rhyming) == len(set(rhyming)), f"a rhyme character is used twice: {lines}"
    assert all(result["rhymes"][1::2]) and result["rhyme_group"] in {table.group_names[g] for g in shared}


def assert_tones(lines, spec):
    table = TABLES[spec.rhyme if spec.rhyme != "none" else "pingshui"]
    for line in ends(lines)[2::2]:
        assert table.tone(line) == OBLIQUE, f"an odd line ends level: {lines}"
    if spec.tones == "none":
        return
    text = [line[:-1] for line in lines]
    fitting = [
        name
        for name, types in standard_forms(spec.line_num, spec.line_length).items()
        if all(
            symbol == ANY or table.tone(char) == symbol
            for line, kind in zip(text, types, strict=True)
            for char, symbol in zip(line, line_pattern(kind, spec.line_length, spec.tones == "loose"), strict=True)
        )
    ]
    assert fitting, f"no standard {spec.tones} pattern fits: {lines}"


def random_specs(count, rhyme, tones, seed):
    rng = random.Random(seed)
    for _ in range(count):
        yield PoemSpec(seed=rng.randrange(2**32), line_num=rng.choice([4, 8]), line_length=rng.choice([5, 7]),
                       temperature=rng.choice([0.5, 0.8, 1.2]), rhyme=rhyme, tones=tones)  # fmt: skip


@pytest.mark.parametrize(
    ("rhyme", "tones"), [("pingshui", "none"), ("xinyun", "none"), ("pingshui", "strict"), ("pingshui", "loose"),
                         ("xinyun", "strict"), ("none", "strict")]
)  # fmt: skip
def test_every_poem_keeps_the_rules_it_was_asked_for(generator, rhyme, tones):
    for spec in random_specs(12, rhyme, tones, seed=hash((rhyme, tones)) % 1000):
        result = generator.generate(spec)
        assert len(result["lines"]) == spec.line_num
        assert all(len(line) == spec.line_length + 1 for line in result["lines"])
        if rhyme != "none":
            assert_rhymes(result, spec)
        else:
            assert "rhyme_group" not in result
        assert_tones(result["lines"], spec)


def test_start_and_acrostic_keep_working_with_rhyme_and_tones(generator):
    spec = PoemSpec(seed=3, start="明月", rhyme="pingshui", tones="loose")
    result = generator.generate(spec)
    assert result["lines"][0].startswith("明月")
    assert_rhymes(result, spec)
    spec = PoemSpec(seed=4, acrostic="春江花月", line_length=7, rhyme="xinyun")
    result = generator.generate(spec)
    assert [line[0] for line in result["lines"]] == list("春江花月")
    assert_rhymes(result, spec)


def test_the_stream_is_the_same_poem(generator):
    spec = PoemSpec(seed=11, rhyme="pingshui", tones="strict", line_num=8, line_length=5)
    assert "".join(generator.stream(spec)) == "".join(generator.generate(spec)["lines"])


def test_an_acrostic_no_strict_pattern_allows_is_refused_naming_the_conflict(generator):
    with pytest.raises(PoemInputError, match=r"line 1, character 1 must be oblique .* but '春' is level"):
        generator.check(PoemSpec(acrostic="春夏秋冬", line_length=5, tones="strict"))
    generator.check(PoemSpec(acrostic="春夏秋冬", line_length=5, tones="loose"))  # 一三五不论 frees the heads


def test_the_group_is_the_models_choice_not_fixed(generator):
    groups = {generator.generate(PoemSpec(seed=seed, rhyme="pingshui"))["rhyme_group"] for seed in range(12)}
    assert len(groups) >= 3


def test_the_textbook_patterns():
    forms = {name: "，".join(line_pattern(t, 7, loose=False) for t in types)
             for name, types in standard_forms(4, 7).items()}  # fmt: skip
    assert forms["平起首句入韵"] == "平平仄仄仄平平，仄仄平平仄仄平，仄仄平平平仄仄，平平仄仄仄平平"
    assert forms["仄起首句不入韵"] == "仄仄平平平仄仄，平平仄仄仄平平，平平仄仄平平仄，仄仄平平仄仄平"
    five = standard_forms(8, 5)["仄起首句不入韵"]
    assert [line_pattern(t, 5, loose=False) for t in five[:4]] == [
        "仄仄平平仄",
        "平平仄仄平",
        "平平平仄仄",
        "仄仄仄平平",
    ]
    assert five[4:] == five[:4]  # a 律诗 is the 绝句 pattern twice
    assert line_pattern("A", 7, loose=True) == "*平*仄*平仄"  # 一三五不论, the last character never free


def test_known_characters_in_both_tables():
    ping, xin = TABLES["pingshui"], TABLES["xinyun"]
    assert ping.group_names[ping.groups_of["东"][0]] == "上平一东"
    assert ping.group_names[ping.groups_of["霜"][0]] == "下平七阳"
    for entering in "月白国一":  # 入声: oblique in 平水韵, whatever their modern tone
        assert ping.tone(entering) == OBLIQUE
    assert xin.tone("国") == LEVEL and xin.tone("月") == OBLIQUE  # guó, yuè
    assert xin.group_names[xin.groups_of["花"][0]] == "一麻" and xin.group_names[xin.groups_of["诗"][0]] == "十三支"
    # 二波 and 十二齐 join finals; decoding keeps them apart (严韵): 歌 gē ≠ 多 duō, 移 yí ≠ 余 yú, same groups
    for a, b in (("歌", "多"), ("移", "余")):
        assert xin.groups_of[a] == xin.groups_of[b] and xin.classes_of[a] != xin.classes_of[b]


def test_a_real_poem_is_reported_as_rhyming():
    lines = ["床前明月光，", "疑是地上霜。", "举头望明月，", "低头思故乡。"]
    assert rhyme_report(TABLES["pingshui"], lines) == ("下平七阳", [True, True, False, True])
