"""Constrained poem decoding: the shape holds whatever the weights, seeds reproduce, bad requests get clear errors."""

import random

import pytest
import torch
from torch import nn

from app.models.torchscript import script_module
from app.predictors.poem_generation import PoemGenerator, PoemInputError, PoemSpec, with_seed
from training.poem_model import SPECIALS, CharRNN, Vocab

POEMS = [
    "床前明月光，疑是地上霜。举头望明月，低头思故乡。",
    "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。",
    "春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。",
    "千山鸟飞绝，万径人踪灭。孤舟蓑笠翁，独钓寒江雪。",
    "两个黄鹂鸣翠柳，一行白鹭上青天。窗含西岭千秋雪，门泊东吴万里船。",
    "朝辞白帝彩云间，千里江陵一日还。两岸猿声啼不住，轻舟已过万重山。",
    "月落乌啼霜满天，江枫渔火对愁眠。姑苏城外寒山寺，夜半钟声到客船。",
    "故人西辞黄鹤楼，烟花三月下扬州。孤帆远影碧空尽，唯见长江天际流。",
    "清明时节雨纷纷，路上行人欲断魂。借问酒家何处有？牧童遥指杏花村。",
    "AI写诗2024！",  # tokens in the vocabulary that a poem line must never hold
]
VOCAB = Vocab.build(POEMS)
WRITABLE = {t for t in VOCAB.tokens if len(t) == 1 and "\u4e00" <= t <= "\u9fff"}


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def generator():
    torch.manual_seed(0)
    return PoemGenerator(script_module(CharRNN(len(VOCAB), 16, 32, 1, "gru")), VOCAB.tokens)


def assert_well_formed(result, spec, writable=WRITABLE):
    lines = result["lines"]
    assert len(lines) == spec.line_num
    for i, line in enumerate(lines):
        assert len(line) == spec.line_length + 1, line
        assert line[-1] == ("，" if i % 2 == 0 else "。"), line
        assert set(line[:-1]) <= writable, line
    assert result["poem"] == "\n".join("".join(lines[i : i + 2]) for i in range(0, len(lines), 2))
    assert isinstance(result["seed"], int)


@pytest.mark.parametrize(("line_num", "line_length"), [(4, 5), (4, 7), (8, 5), (8, 7)])
def test_poem_has_the_requested_shape(generator, line_num, line_length):
    spec = PoemSpec(line_num=line_num, line_length=line_length, seed=7)
    assert_well_formed(generator.generate(spec), spec)


def test_same_seed_same_poem_and_seeds_differ(generator):
    spec = PoemSpec(seed=123)
    assert generator.generate(spec) == generator.generate(spec)
    poems = {generator.generate(PoemSpec(seed=seed))["poem"] for seed in range(5)}
    assert len(poems) >= 2


def test_missing_seed_is_drawn_and_reported_so_the_poem_can_be_reproduced(generator):
    first = generator.generate(PoemSpec(start="江"))
    assert 0 <= first["seed"] < 2**32
    assert generator.generate(PoemSpec(start="江", seed=first["seed"])) == first
    assert with_seed(PoemSpec(seed=5)).seed == 5


def test_start_begins_the_poem(generator):
    spec = PoemSpec(start="床前明月", seed=1)
    result = generator.generate(spec)
    assert result["poem"].startswith("床前明月")
    assert_well_formed(result, spec)


def test_acrostic_heads_each_line(generator):
    spec = PoemSpec(acrostic="春江花月夜明山人", line_num=8, line_length=5, seed=3)
    result = generator.generate(spec)
    assert [line[0] for line in result["lines"]] == list("春江花月夜明山人")
    assert_well_formed(result, spec)


def test_stream_yields_the_lines_one_character_at_a_time(generator):
    spec = PoemSpec(seed=11, line_num=8, line_length=5)
    chunks = list(generator.stream(spec))
    assert all(len(chunk) == 1 for chunk in chunks)
    result = generator.generate(spec)
    assert "".join(chunks) == "".join(result["lines"]) == result["poem"].replace("\n", "")


def test_stream_refuses_a_bad_spec_before_the_first_character(generator):
    with pytest.raises(PoemInputError):
        generator.stream(PoemSpec(start="a"))  # no next(): a server can still answer 422


def test_stream_does_not_leave_inference_mode_on_between_characters(generator):
    chunks = generator.stream(PoemSpec(seed=0))
    next(chunks)
    assert not torch.is_inference_mode_enabled()


def test_unknown_characters_are_listed_exactly(generator):
    with pytest.raises(PoemInputError) as caught:
        generator.generate(PoemSpec(acrostic="a床😀，A<unk>", line_num=10))
    # "A" and "，" are tokens of the vocabulary, but not characters a line may hold.
    assert caught.value.unknown == ["a", "😀", "，", "A", "<", "u", "n", "k", ">"]
    assert str(caught.value).startswith("characters not in the vocabulary: ['a', '😀', '，', 'A', '<',")


def test_unknown_acrostic_characters_are_listed(generator):
    with pytest.raises(PoemInputError) as caught:
        generator.check(PoemSpec(acrostic="春冬化雨"))
    assert caught.value.unknown == ["冬", "化"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"start": "春", "acrostic": "春江花月"}, "give either start or acrostic, not both"),
        (
            {"acrostic": "春江花"},
            "acrostic has 3 characters but the poem has 4 lines; give one head character per line",
        ),
        (
            {"start": "床前明月光疑", "line_length": 5},
            "start has 6 characters but a line has only 5; start must fit in the first line",
        ),
    ],
)
def test_a_spec_whose_forced_characters_do_not_fit_cannot_be_made(fields, message):
    # The request's limits (lines, temperature, seed) are its schema's (tests/api/test_poem.py); a spec
    # refuses only what would make decoding itself inconsistent.
    with pytest.raises(PoemInputError) as caught:
        PoemSpec(**fields)
    assert caught.value.detail == message
    assert caught.value.unknown == []


def test_200_random_specs_all_hold_the_shape(generator):
    rng = random.Random(0)
    starts = sorted(WRITABLE)
    for _ in range(200):
        line_length = rng.choice([5, 7])
        start = "".join(rng.choices(starts, k=rng.randint(0, line_length)))
        spec = PoemSpec(
            start=start,
            line_num=rng.choice([4, 8]),
            line_length=line_length,
            temperature=rng.uniform(0.2, 2.0),
            top_k=rng.randint(1, 50),
            seed=rng.randrange(2**32),
        )
        result = generator.generate(spec)
        assert result["poem"].startswith(start)
        assert_well_formed(result, spec)


def test_sampled_characters_do_not_repeat_within_a_line(generator):
    for seed in range(20):
        for line in generator.generate(PoemSpec(seed=seed, temperature=0.3, top_k=3))["lines"]:
            assert len(set(line)) == len(line), line


class FixedScores(nn.Module):
    """Ignores its input: the same next-token scores at every step, so top_k=1 makes the poem exact."""

    def __init__(self, scores: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("scores", scores)

    def forward(self, tokens: torch.Tensor, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.scores.expand(tokens.shape[0], tokens.shape[1], -1), hidden

    @torch.jit.export
    def initial_hidden(self, batch_size: int) -> torch.Tensor:
        return torch.zeros(1, batch_size, 1)


def test_specials_and_punctuation_are_masked_however_likely():
    scores = torch.zeros(len(VOCAB))
    # The model is sure the poem ends, or wants a question mark or Latin: the line must still be Chinese.
    for token, score in {"<eos>": 90, "<unk>": 80, "？": 70, "，": 60, "A": 50, "2": 40}.items():
        scores[VOCAB.index[token]] = score
    for rank, ch in enumerate("月明光霜床地上"):
        scores[VOCAB.index[ch]] = 10 - rank
    generator = PoemGenerator(script_module(FixedScores(scores)), VOCAB.tokens)
    # Greedy (top_k=1) with the no-repeat guard walks down the ranking, starting over on each line.
    couplet = "月明光霜床地上，月明光霜床地上。"
    assert generator.generate(PoemSpec(top_k=1, seed=0))["poem"] == f"{couplet}\n{couplet}"
    result = generator.generate(PoemSpec(top_k=1, seed=0, line_length=5, start="上"))
    assert result["lines"] == ["上月明光霜，", "月明光霜床。", "月明光霜床，", "月明光霜床。"]


def test_a_vocabulary_smaller_than_a_line_repeats_rather_than_fails():
    vocab = Vocab.build(["春花，月。"])
    torch.manual_seed(0)
    generator = PoemGenerator(script_module(CharRNN(len(vocab), 8, 8, 1, "gru")), vocab.tokens)
    spec = PoemSpec(line_length=5, seed=0)
    assert_well_formed(generator.generate(spec), spec, writable=set("春花月"))


def test_a_model_for_another_vocabulary_is_refused_at_startup():
    model = script_module(CharRNN(len(VOCAB) + 1, 8, 8, 1, "gru"))
    with pytest.raises(ValueError, match=f"the model predicts {len(VOCAB) + 1} tokens but the vocabulary has"):
        PoemGenerator(model, VOCAB.tokens)
    with pytest.raises(ValueError, match="must start with"):
        PoemGenerator(model, ["床", *SPECIALS])


def test_theme_keywords_give_vocabulary_characters_in_keyword_order(generator):
    # jieba's keywords: 夜深, 故人, 江边, 明月, 远方, 想起, 看着; 深 边 方 想 起 看 着 are not in the vocabulary.
    assert generator.keywords_to_chars("夜深了，我在江边看着明月，想起远方的故人", 6) == "夜故人江明月"
    assert generator.keywords_to_chars("咖啡馆里想起故乡的明月", 7) == "明月故乡"


def test_a_one_character_theme_uses_that_character(generator):
    assert generator.keywords_to_chars("月", 4) == "月"  # jieba's keywords skip one-character words


def test_a_theme_without_usable_characters_is_refused(generator):
    with pytest.raises(PoemInputError) as caught:
        generator.keywords_to_chars("hello 咖啡", 4)
    assert caught.value.unknown == ["h", "e", "l", "o", "咖", "啡"]
    assert str(caught.value) == "no character of the theme is in the vocabulary: ['h', 'e', 'l', 'o', '咖', '啡']"
