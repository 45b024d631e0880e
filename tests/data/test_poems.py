import json
import re
from collections import Counter

import pytest

from training.data.images import CsvFormatError
from training.data.manifest import sha256_file
from training.data.poems import (
    build_poems,
    convert_poems,
    read_records,
    rejection_reason,
    split_lines,
    traditional_to_simplified,
    verify_poems_file,
)
from training.data.sources import SourceUnavailable

JUEJU_5 = "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。"
JUEJU_7 = "朝辞白帝彩云间，千里江陵一日还。两岸猿声啼不住，轻舟已过万重山。"
LUSHI_5 = "秦川雄帝宅，函谷壮皇居。绮殿千寻起，离宫百雉余。连甍遥接汉，飞观迥凌虚。云日隐层阙，风烟出绮疎。"
LUSHI_7 = (
    "风急天高猿啸哀，渚清沙白鸟飞回。无边落木萧萧下，不尽长江滚滚来。"
    "万里悲秋常作客，百年多病独登台。艰难苦恨繁霜鬓，潦倒新停浊酒杯。"
)

# The first poem of chinese-poetry's dist/quantangshi/poet.tang.0.json, in traditional characters.
DIJING_TRADITIONAL = {
    "author": "太宗皇帝",
    "paragraphs": [
        "秦川雄帝宅，函谷壯皇居。",
        "綺殿千尋起，離宮百雉餘。",
        "連甍遙接漢，飛觀迥凌虛。",
        "雲日隱層闕，風煙出綺疎。",
    ],
    "title": "帝京篇十首 一",
    "id": "3ad6d468-7ff1-4a7b-8b24-a27d70d00ed4",
}
DENGGUAN_TRADITIONAL = {
    "author": "王之渙",
    "paragraphs": ["白日依山盡，黃河入海流。", "欲窮千里目，更上一層樓。"],
    "title": "登鸛雀樓",
    "id": "00000000-0000-0000-0000-000000000001",
}


@pytest.mark.parametrize("poem", [JUEJU_5, JUEJU_7, LUSHI_5, LUSHI_7], ids=["5x4", "7x4", "5x8", "7x8"])
def test_regular_poems_are_kept(poem):
    assert rejection_reason(poem) is None


@pytest.mark.parametrize("ending", ["！", "？"])
def test_other_sentence_endings_are_kept(ending):
    assert rejection_reason(JUEJU_5[:-1] + ending) is None


@pytest.mark.parametrize(
    ("poem", "reason"),
    [
        ("", "empty"),
        (JUEJU_5 + "白日依山尽，黄河入海流。", "not 4 or 8 lines"),  # 6 lines
        ("白日依山尽，黄河入海流。", "not 4 or 8 lines"),  # 2 lines
        ("白日依山尽，黄河入海流。欲穷千里目，更上一层楼台。", "lines not all 5 or all 7 characters"),
        ("白日依山尽了，黄河入海流去。欲穷千里目啊，更上一层楼台。", "lines not all 5 or all 7 characters"),
        ("白日依山□，黄河入海流。欲穷千里目，更上一层楼。", "artefacts (□, brackets, digits, Latin)"),
        ("白日依山尽，黄河（入）海流。欲穷千里目，更上一层楼。", "artefacts (□, brackets, digits, Latin)"),
        ("白日依山尽，黄河入海流。欲穷千里目，更上【一】层楼。", "artefacts (□, brackets, digits, Latin)"),
        ("白日依山尽，黄河入海流。欲穷千里目，更上1层楼。", "artefacts (□, brackets, digits, Latin)"),
        ("白日依山尽，黄河入海流。欲穷千里目，更上一层楼。Tang", "artefacts (□, brackets, digits, Latin)"),
        ("白日依山尽，黄河入海流。欲穷千里目，更上一层楼，", "does not end a sentence"),
        ("白日依山尽，黄河入海流。欲穷千里目，更上一层楼", "irregular punctuation or characters"),
        ("白日依山尽，黄河入海流。欲穷千里目 更上一层楼。", "irregular punctuation or characters"),
    ],
    ids=[
        "empty",
        "6-lines",
        "2-lines",
        "mixed-lengths",
        "6-characters",
        "missing-character",
        "round-brackets",
        "square-brackets",
        "digit",
        "latin",
        "ends-with-comma",
        "no-final-punctuation",
        "space",
    ],
)
def test_irregular_poems_are_rejected(poem, reason):
    assert rejection_reason(poem) == reason


def test_split_lines():
    assert split_lines(JUEJU_5) == ["白日依山尽，", "黄河入海流。", "欲穷千里目，", "更上一层楼。"]
    assert split_lines("白日依山尽，黄河") is None


def test_opencc_traditional_to_simplified():
    to_simplified = traditional_to_simplified()
    assert (
        to_simplified("秦川雄帝宅，函谷壯皇居。綺殿千尋起，離宮百雉餘。")
        == "秦川雄帝宅，函谷壮皇居。绮殿千寻起，离宫百雉余。"
    )


def test_convert_poems_simplifies_filters_and_deduplicates():
    records = [
        DIJING_TRADITIONAL,
        DENGGUAN_TRADITIONAL,
        {**DIJING_TRADITIONAL, "id": "another copy"},  # same poem again
        {**DENGGUAN_TRADITIONAL, "paragraphs": ["白日依山尽，", "黄河入海流。", "欲穷千里目，", "更上一层楼。"]},
        {"author": "佚名", "paragraphs": ["□□□□□，□□□□□。"], "title": "句", "id": "x"},
        {"author": "佚名", "paragraphs": ["一二三四五六，七八九十百千。"] * 2, "title": "句", "id": "y"},
        {"author": "佚名", "title": "無題", "id": "z"},
        {"author": "佚名", "paragraphs": "not a list", "title": "無題", "id": "w"},
        ["not", "a", "record"],
    ]
    kept, reasons = convert_poems(records, traditional_to_simplified())
    assert kept == [LUSHI_5, JUEJU_5]
    assert reasons == Counter(
        {
            "duplicate": 2,
            "malformed record": 3,
            "artefacts (□, brackets, digits, Latin)": 1,
            "lines not all 5 or all 7 characters": 1,
        }
    )


def test_convert_poems_strips_whitespace_around_paragraphs():
    record = {**DENGGUAN_TRADITIONAL, "paragraphs": [" 白日依山盡，黃河入海流。\n", "\t欲窮千里目，更上一層樓。 "]}
    kept, reasons = convert_poems([record], traditional_to_simplified())
    assert kept == [JUEJU_5]
    assert reasons == Counter()


def _package(make_tgz, path, files):
    return make_tgz(path, {k: v if isinstance(v, bytes) else json.dumps(v).encode() for k, v in files.items()})


def test_read_records_ignores_other_files(tmp_path, make_tgz):
    tgz = _package(
        make_tgz,
        tmp_path / "chinese-poetry-2.0.1.tgz",
        {
            "package/package.json": {"name": "chinese-poetry"},
            "package/dist/quantangshi/poet.tang.0.json": [DIJING_TRADITIONAL],
            "package/dist/quantangshi/error/poet.tang.0.json": [{"paragraphs": ["錯誤"]}],
            "package/dist/quantangshi/poet.song.0.json": [{"paragraphs": ["宋詩"]}],
            "package/dist/quantangshi/authors.tang.json": [{"name": "李白"}],
            "package/dist/quantangshi/poet.tang.1000.json": [DENGGUAN_TRADITIONAL],
        },
    )
    assert read_records(tgz) == [DIJING_TRADITIONAL, DENGGUAN_TRADITIONAL]


def test_read_records_bad_json(tmp_path, make_tgz):
    tgz = _package(make_tgz, tmp_path / "p.tgz", {"package/dist/quantangshi/poet.tang.0.json": b'[{"author": '})
    with pytest.raises(SourceUnavailable, match=r"package/dist/quantangshi/poet\.tang\.0\.json: not valid JSON \("):
        read_records(tgz)


def test_read_records_not_utf8(tmp_path, make_tgz):
    tgz = _package(make_tgz, tmp_path / "p.tgz", {"package/dist/quantangshi/poet.tang.0.json": "[]".encode("utf-16")})
    with pytest.raises(SourceUnavailable, match=re.escape("poet.tang.0.json: not valid JSON")):
        read_records(tgz)


def test_read_records_not_a_list(tmp_path, make_tgz):
    tgz = _package(make_tgz, tmp_path / "p.tgz", {"package/dist/quantangshi/poet.tang.0.json": DIJING_TRADITIONAL})
    with pytest.raises(SourceUnavailable, match=re.escape("poet.tang.0.json: expected a JSON list of poems")):
        read_records(tgz)


def test_read_records_no_tang_files(tmp_path, make_tgz):
    tgz = _package(make_tgz, tmp_path / "p.tgz", {"package/dist/quantangshi/error/poet.tang.0.json": []})
    with pytest.raises(SourceUnavailable, match=r"p\.tgz has no package/dist/quantangshi/poet\.tang\.\*\.json files"):
        read_records(tgz)


def test_build_poems_from_cached_package(tmp_path, make_tgz, no_subprocess, capsys):
    cache = tmp_path / "cache"
    cache.mkdir()
    _package(
        make_tgz,
        cache / "chinese-poetry-2.0.1.tgz",
        {
            "package/dist/quantangshi/poet.tang.0.json": [DIJING_TRADITIONAL, DENGGUAN_TRADITIONAL],
            "package/dist/quantangshi/poet.tang.1000.json": [DENGGUAN_TRADITIONAL, {"paragraphs": ["□"]}],
        },
    )
    rows = build_poems(tmp_path / "data", cache)

    folder = tmp_path / "data" / "poems"
    assert rows == {"poems.txt": 2}
    assert (folder / "poems.txt").read_text(encoding="utf-8") == f"{LUSHI_5}\n{JUEJU_5}\n"
    manifest = json.loads((folder / "MANIFEST.json").read_text(encoding="utf-8"))
    assert manifest == {
        "source": "npm package chinese-poetry@2.0.1 (dist/quantangshi/poet.tang.*.json), OpenCC t2s",
        "files": {
            "poems.txt": {
                "rows": 2,
                "bytes": (folder / "poems.txt").stat().st_size,
                "sha256": sha256_file(folder / "poems.txt"),
            }
        },
    }
    assert sorted(p.name for p in folder.iterdir()) == ["MANIFEST.json", "poems.txt"]
    assert "4 Tang poems read; kept 2; dropped: " in capsys.readouterr().out

    (cache / "chinese-poetry-2.0.1.tgz").unlink()  # the second run needs nothing from the cache
    assert build_poems(tmp_path / "data", cache) == rows


def test_build_poems_accepts_user_file(tmp_path, no_subprocess):
    folder = tmp_path / "data" / "poems"
    folder.mkdir(parents=True)
    (folder / "poems.txt").write_text(f"{JUEJU_7}\n{LUSHI_7}\n{JUEJU_5}\n", encoding="utf-8")
    assert build_poems(tmp_path / "data", tmp_path / "cache") == {"poems.txt": 3}
    assert json.loads((folder / "MANIFEST.json").read_text(encoding="utf-8"))["source"] == "user-supplied"


def test_verify_poems_file(tmp_path):
    path = tmp_path / "poems.txt"
    path.write_text(f"{JUEJU_5}\n{LUSHI_7}\n", encoding="utf-8")
    assert verify_poems_file(path) == 2


def test_verify_poems_file_names_the_bad_line(tmp_path):
    path = tmp_path / "poems.txt"
    path.write_text(f"{JUEJU_5}\n{LUSHI_5}\n白日依山尽，黄河入海流。\n{JUEJU_7}\n", encoding="utf-8")
    with pytest.raises(
        CsvFormatError, match=r"poems\.txt:3: not a regular 4/8-line 5/7-character poem \(not 4 or 8 lines\)"
    ):
        verify_poems_file(path)


def test_verify_poems_file_blank_line(tmp_path):
    path = tmp_path / "poems.txt"
    path.write_text(f"{JUEJU_5}\n\n{JUEJU_7}\n", encoding="utf-8")
    with pytest.raises(CsvFormatError, match=r"poems\.txt:2: .*\(empty\)"):
        verify_poems_file(path)


def test_verify_poems_file_empty(tmp_path):
    path = tmp_path / "poems.txt"
    path.write_text("", encoding="utf-8")
    with pytest.raises(CsvFormatError, match=re.escape("poems.txt: no poems")):
        verify_poems_file(path)
