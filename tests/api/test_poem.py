"""POST /generate/poem and /generate/poem/stream: the poem's shape always holds, seeds reproduce, refusals are exact."""

import json
import random
import unicodedata

import pytest

from tests.api.conftest import MODELS, assert_error
from tests.api.helpers import post_json_text, read_events

PATH = "/generate/poem"
STREAM = "/generate/poem/stream"
COMMA, PERIOD = "，", "。"


def is_han(char: str) -> bool:
    return unicodedata.name(char, "").startswith(("CJK UNIFIED IDEOGRAPH", "CJK COMPATIBILITY IDEOGRAPH"))


@pytest.fixture(scope="module")
def han_vocabulary() -> list[str]:
    """The Chinese characters the poem model can write, from its own vocab.json."""
    tokens = json.loads((MODELS / "poem" / "vocab.json").read_text(encoding="utf-8"))["tokens"]
    return [token for token in tokens if len(token) == 1 and is_han(token)]


def poem(client, **request) -> dict:
    response = client.post(PATH, json=request)
    assert response.status_code == 200, response.text
    return response.json()


def assert_shape(answer: dict, line_num: int = 4, line_length: int = 7, start: str = "") -> None:
    """line_num lines of line_length Chinese characters, ending alternately in ，and 。; one couplet per text line."""
    lines = answer["lines"]
    assert len(lines) == line_num, lines
    for number, line in enumerate(lines):
        assert len(line) == line_length + 1, line
        assert all(is_han(char) for char in line[:-1]), line
        assert line[-1] == (COMMA if number % 2 == 0 else PERIOD), line
    assert answer["poem"] == "\n".join(lines[i] + lines[i + 1] for i in range(0, line_num, 2))
    assert answer["poem"].startswith(start)


def test_default_request_is_a_seven_character_quatrain(client):
    answer = poem(client)
    assert set(answer) == {"poem", "lines", "seed", "model_version", "rhyme_group", "rhymes"}  # pingshui by default
    assert_shape(answer)
    assert answer["model_version"] == client.get("/models/poem").json()["version"]


def test_sixty_random_requests_all_have_the_requested_shape(client, han_vocabulary):
    rng = random.Random(2024)  # a fixed draw: a failure names a request that can be replayed
    for _ in range(60):
        request = {
            "seed": rng.randrange(2**32),
            "line_num": rng.choice([4, 8]),
            "line_length": rng.choice([5, 7]),
            "start": rng.choice(han_vocabulary),
            "temperature": rng.choice([0.3, 0.8, 1.5]),
            "top_k": rng.choice([1, 5, 50]),
        }
        answer = poem(client, **request)
        assert_shape(answer, request["line_num"], request["line_length"], request["start"])
        assert answer["seed"] == request["seed"], request


def test_same_seed_same_poem(client):
    request = {"start": "月", "line_num": 8, "line_length": 5, "seed": 7}
    first, second = poem(client, **request), poem(client, **request)
    assert first == second
    assert first["seed"] == 7


def test_without_a_seed_one_is_drawn_and_returned_that_reproduces_the_poem(client):
    answer = poem(client, start="山")
    assert isinstance(answer["seed"], int)
    assert poem(client, start="山", seed=answer["seed"]) == answer


@pytest.mark.parametrize("heads", ["春夏秋冬", "明月清风白云流水"])
def test_acrostic_heads_begin_each_line(client, heads):
    answer = poem(client, acrostic=heads, line_num=len(heads), seed=3)
    assert_shape(answer, line_num=len(heads))
    assert "".join(line[0] for line in answer["lines"]) == heads


def test_theme_keywords_begin_the_poem(client):
    theme = "江南的春天"
    answer = poem(client, theme=theme, seed=5)
    assert_shape(answer)
    assert set(answer["poem"][:2]) <= set(theme)


def test_theme_as_acrostic_gives_the_line_heads(client):
    theme = "江南的春天"
    answer = poem(client, theme=theme, theme_as="acrostic", seed=5)
    heads = [line[0] for line in answer["lines"]]
    assert set(heads) <= set(theme)
    assert len(set(heads)) == 4


def test_unknown_characters_are_422_and_listed_exactly(client):
    response = client.post(PATH, json={"start": "a😀"})
    body = assert_error(response, 422, "invalid_input", "characters not in the vocabulary: ['a', '😀']")
    assert body["unknown_characters"] == ["a", "😀"]
    response = client.post(PATH, json={"acrostic": "春夏秋x"})
    assert assert_error(response, 422, "invalid_input")["unknown_characters"] == ["x"]


@pytest.mark.parametrize(
    ("request_body", "message"),
    [
        ({"line_num": 3}, "line_num: Input should be 4 or 8"),
        ({"line_length": 6}, "line_length: Input should be 5 or 7"),
        ({"temperature": 0}, "temperature: Input should be greater than or equal to 0.05"),
        ({"top_k": 0}, "top_k: Input should be greater than or equal to 1"),
        ({"meter": "ang"}, "meter: unknown field"),
        ({"rhyme": "ang"}, "rhyme: Input should be 'pingshui', 'xinyun' or 'none'"),
        ({"tones": "exact"}, "tones: Input should be 'none', 'loose' or 'strict'"),
        (
            {"acrostic": "春夏秋冬", "line_length": 5, "tones": "strict"},
            "no standard strict tone pattern fits the given characters (tones='loose' frees the 1st and 3rd "
            "characters of a line): 仄起首句不入韵: line 1, character 1 must be oblique (仄) but '春' is level (平)",
        ),
        ({"start": "春眠不觉晓处", "line_length": 5}, "start has 6 characters but a line has only 5"),
        ({"start": "一二三四五六七八"}, "start: String should have at most 7 characters"),
        ({"start": "春", "acrostic": "春夏秋冬"}, "give either start or acrostic, not both"),
        (
            {"acrostic": "春夏秋"},
            "acrostic has 3 characters but the poem has 4 lines; give one head character per line",
        ),
        ({"theme": "江南", "start": "春"}, "give `theme` or `start`/`acrostic`, not both"),
        ({"theme": "月", "theme_as": "acrostic"}, "the theme gives only 1 usable characters (月) for 4 acrostic heads"),
    ],
    ids=[
        "line_num 3",
        "line_length 6",
        "temperature 0",
        "top_k 0",
        "unknown field",
        "unknown rhyme",
        "unknown tones",
        "acrostic impossible under strict tones",
        "start > line",
        "start > 7",
        "start+acrostic",
        "acrostic length",
        "theme+start",
        "theme too poor",
    ],
)
def test_invalid_request_is_422_naming_the_problem(client, request_body, message):
    assert_error(client.post(PATH, json=request_body), 422, "invalid_input", message)


def test_invalid_field_is_named_in_errors(client):
    body = assert_error(client.post(PATH, json={"line_num": 3}), 422, "invalid_input")
    assert body["errors"] == [{"field": "line_num", "message": "Input should be 4 or 8", "type": "literal_error"}]


def test_theme_over_max_theme_chars_is_413(tight_client):
    response = tight_client.post(PATH, json={"theme": "江南的春天啊"})
    assert_error(response, 413, "too_large", "`theme` has 6 characters; the limit is 5 (MAX_THEME_CHARS)")


def test_stream_sends_each_character_then_the_same_poem_as_the_plain_endpoint(client):
    request = {"start": "花", "line_num": 8, "line_length": 7, "seed": 11}
    events = read_events(client.post(STREAM, json=request))
    *chars, (last, done) = events
    assert last == "done"
    assert [name for name, _ in chars] == ["char"] * (8 * 8)
    assert [data["index"] for _, data in chars] == list(range(8 * 8))
    plain = poem(client, **request)
    assert "".join(data["char"] for _, data in chars) == "".join(plain["lines"])
    assert done == plain


def test_stream_without_seed_reports_the_seed_that_reproduces_it(client):
    *_, (_, done) = read_events(client.post(STREAM, json={"acrostic": "风花雪月"}))
    assert poem(client, acrostic="风花雪月", seed=done["seed"]) == done


def test_stream_refuses_a_bad_request_with_plain_json(client):
    response = client.post(STREAM, json={"start": "a"})
    assert response.headers["content-type"] == "application/json"
    assert assert_error(response, 422, "invalid_input")["unknown_characters"] == ["a"]


@pytest.mark.parametrize(
    ("field", "json_value", "message"),
    [
        ("temperature", "6.564458095701789e-153", "temperature: Input should be greater than or equal to 0.05"),
        ("temperature", "5e-324", "temperature: Input should be greater than or equal to 0.05"),  # a denormal
        ("temperature", "-0.0", "temperature: Input should be greater than or equal to 0.05"),
        ("temperature", "1e308", "temperature: Input should be less than or equal to 2"),
        ("temperature", "NaN", "temperature: Input should be a finite number"),
        ("temperature", "Infinity", "temperature: Input should be a finite number"),
        ("top_k", "18446744073709551616", "top_k: Input should be less than or equal to 500"),
        ("top_k", "-0", "top_k: Input should be greater than or equal to 1"),
        ("seed", "18446744073709551616", "seed: Input should be less than or equal to 9007199254740992"),
        ("seed", "-1", "seed: Input should be greater than or equal to 0"),
        ("seed", "1e300", "seed: Input should be a valid integer"),
    ],
)
def test_extreme_numbers_are_a_422_naming_the_allowed_range(client, field, json_value, message):
    text = f'{{"start": "春", "{field}": {json_value}}}'
    assert_error(post_json_text(client, PATH, text), 422, "invalid_input", message)


@pytest.mark.parametrize("temperature", [0.05, 2.0])
def test_the_ends_of_the_temperature_range_write_a_poem(client, temperature):
    response = client.post(PATH, json={"start": "春", "temperature": temperature, "seed": 3})
    assert response.status_code == 200, response.text
    assert len(response.json()["lines"]) == 4
