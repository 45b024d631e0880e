"""The answers the READMEs and the API reference print under their curl examples are the service's real answers.

The house and seeded poem examples are deterministic, so what a page shows for them must be what the
committed models answer: a retrained model that changes them fails here until the pages say the new answer.
"""

from __future__ import annotations

import json
import re
import shlex

import pytest

from tests.api.conftest import ROOT
from tests.test_docs import shell_blocks

PAGES = [ROOT / "README.md", ROOT / "README.zh-CN.md", ROOT / "docs" / "api.md"]
DETERMINISTIC = ("/predict/house-price", "/generate/poem")


def documented_calls(text: str) -> list[tuple[str, dict, str]]:
    """(path, JSON body, the comment lines printed under it) for each curl with a JSON body in the bash blocks."""
    calls = []
    for lines in shell_blocks(text):
        for number, line in enumerate(lines):
            if not line.startswith("curl ") or " -d " not in line:
                continue
            words = shlex.split(line, comments=True)
            path = next(("/" + w.split("/", 3)[3] for w in words if w.startswith("http")), "")
            comment = []
            for after in lines[number + 1 :]:
                if not after.startswith("#"):
                    break
                comment.append(after.lstrip("# "))
            try:
                body = json.loads(words[words.index("-d") + 1])
            except ValueError:  # a form, or a file (`-d @rows.json`): not an example with its answer
                continue
            calls.append((path, body, "".join(comment)))
    return calls


def shown(comment: str, key: str) -> str | None:
    found = re.search(rf'"{key}":("(?:[^"\\]|\\.)*"|[\d.]+)', comment)
    return json.loads(found.group(1)) if found else None


CASES = [
    pytest.param(path, body, comment, id=f"{page.name}:{path}")
    for page in PAGES
    for path, body, comment in documented_calls(page.read_text(encoding="utf-8"))
    if path in DETERMINISTIC and (path != "/generate/poem" or "seed" in body) and comment.startswith("{")
]


def test_the_pages_have_examples_to_check():
    assert {case.values[0] for case in CASES} == set(DETERMINISTIC)
    assert len(CASES) >= 6  # a house and a poem on each of the three pages


@pytest.mark.parametrize(("path", "body", "comment"), CASES)
def test_a_documented_answer_is_the_real_one(client, path, body, comment):
    answer = client.post(path, json=body).json()
    keys = ("sale_price", "model_version") if path == "/predict/house-price" else ("poem", "rhyme_group", "seed")
    for key in keys:
        assert shown(comment, key) in (answer[key], None), f"{key}: the page shows {shown(comment, key)!r}"
    assert any(shown(comment, key) is not None for key in keys)
