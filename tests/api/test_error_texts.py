"""Every error code the service can answer has a Chinese text in the playground, and is in the API reference.

The codes are read from the source (tools/error_codes.py), so a code added anywhere in app/ without a
translation fails here before it can reach a page in 中文 mode as English only.
"""

from __future__ import annotations

import json
import re
import textwrap

import pytest

from app.schemas.images import ImageInputBase
from app.schemas.poem import PoemRequest
from tools.error_codes import ROOT, chinese_texts, emitted_codes, untranslated

TEXTS = chinese_texts()
HAN = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def codes() -> set[str]:
    return emitted_codes()


def test_every_code_the_service_can_answer_has_a_chinese_text(codes):
    assert untranslated(codes, TEXTS) == []


def test_the_scan_sees_each_way_a_code_is_made(codes):
    assert {
        "invalid_image",  # a typed error's class default (app/predictors/image_input.py)
        "queue_full",  # given where it is raised (app/models/batcher.py)
        "not_ready",  # an answer built by hand (app/api/routes/health.py)
        "method_not_allowed",  # the framework's refusals (app/api/errors.py _HTTP_CODES)
        "internal_error",  # the 500 and a stream's error event
    } <= codes


def test_a_new_code_without_a_chinese_text_fails(tmp_path, codes):
    (tmp_path / "feature.py").write_text(
        textwrap.dedent(
            """
            from app.core.errors import InvalidInput, Unavailable

            class WornOut(Unavailable):
                code = "model_worn_out"

            def check(x):
                if x:
                    raise InvalidInput("too odd", code="too_odd")
                return {"detail": "fine", "code": "not_ready"}
            """
        ),
        encoding="utf-8",
    )
    found = emitted_codes(tmp_path)
    assert found == {"model_worn_out", "too_odd", "not_ready"}
    assert untranslated(codes | found, TEXTS) == ["model_worn_out", "too_odd"]


def test_no_text_is_kept_for_a_code_nothing_answers(codes):
    assert sorted(set(TEXTS["codes"]) - codes) == []


def test_every_text_is_chinese():
    for table in ("codes", "types", "fields"):
        for key, text in TEXTS[table].items():
            assert HAN.search(text), f"{table}.{key} is not Chinese: {text!r}"


def test_every_request_field_of_poems_and_images_has_a_chinese_name():
    names = TEXTS["fields"]
    missing = [f for f in [*PoemRequest.model_fields, *ImageInputBase.model_fields] if f not in names]
    assert missing == []


def test_every_house_field_has_a_name_the_page_can_show():
    # The page names a house field by its Chinese label, else by its Kaggle column (which the form shows too).
    spec = json.loads((ROOT / "app" / "static" / "playground" / "house_fields.json").read_text(encoding="utf-8"))
    unnamed = [f["name"] for f in spec["main"] if not f.get("label_zh")]
    assert unnamed == [], "the leading fields of the form are labelled in Chinese"


def test_every_code_is_in_the_api_reference(codes):
    reference = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    assert sorted(code for code in codes if f"`{code}`" not in reference) == []
