"""The documentation holds together: every relative link and anchor resolves, the READMEs stay short, and the
Chinese pages (README.zh-CN.md, docs/zh/) say the same commands and reach the same pages as the English ones."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README, README_ZH = ROOT / "README.md", ROOT / "README.zh-CN.md"
PAGES = sorted([README, README_ZH, ROOT / "SECURITY.md", ROOT / "deploy" / "README.md",
                *(ROOT / "docs").glob("*.md"), *(ROOT / "docs" / "zh").glob("*.md")])  # fmt: skip
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.M | re.S)
SHELL_FENCE = re.compile(r"^```(?:bash|sh|shell)\n(.*?)^```", re.M | re.S)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped (hyphens kept), spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    kept = "".join(c for c in text if c in " -" or unicodedata.category(c)[0] in "LN")
    return kept.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    return {slug(line.lstrip("#")) for line in text.splitlines() if re.match(r"^#{1,6} ", line)}


def links(page: Path) -> list[str]:
    return LINK.findall(FENCE.sub("", page.read_text(encoding="utf-8")))


def broken(page: Path) -> list[str]:
    problems = []
    for target in links(page):
        if re.match(r"^[a-z]+:", target):  # http(s), mailto: not checked offline
            continue
        path_part, _, anchor = target.partition("#")
        resolved = (page.parent / path_part).resolve() if path_part else page
        if not resolved.exists():
            problems.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            problems.append(f"{target}: no heading #{anchor} in {resolved.name}")
    return problems


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_and_anchor_resolves(page):
    assert broken(page) == []


def test_the_link_check_catches_a_missing_file_and_a_missing_anchor(tmp_path):
    page = tmp_path / "page.md"
    (tmp_path / "other.md").write_text("# Other page\n\n## Its section\n", encoding="utf-8")
    page.write_text("[a](other.md#its-section) [b](other.md#nothing) [c](missing.md) [d](#here)\n\n## Here\n")
    assert broken(page) == ["other.md#nothing: no heading #nothing in other.md", "missing.md: no such file"]


def test_slugs_follow_githubs_rule():
    assert (
        slug("Open Inference Protocol (KServe v2) and live reload")
        == "open-inference-protocol-kserve-v2-and-live-reload"
    )
    assert slug("`make bench-peers`: side by side") == "make-bench-peers-side-by-side"
    assert slug("诗与韵 Poems") == "诗与韵-poems"


def linked_pages(page: Path) -> set[Path]:
    return {(page.parent / t.partition("#")[0]).resolve() for t in links(page) if not re.match(r"^[a-z]+:|#", t)}


def shell_blocks(text: str) -> list[list[str]]:
    """The lines of each bash block of a page, a line continued with a backslash joined to the next."""
    return [block.replace("\\\n", " ").splitlines() for block in SHELL_FENCE.findall(text)]


def commands(page: Path) -> set[str]:
    """The shell commands of a page's bash blocks: comments dropped, continued lines joined, spaces squeezed."""
    found = set()
    for lines in shell_blocks(page.read_text(encoding="utf-8")):
        for command in lines:
            command = " ".join(re.sub(r"(^|\s)#.*$", "", command).split())
            if command:
                found.add(command)
    return found


@pytest.mark.parametrize("readme", [README, README_ZH], ids=lambda p: p.name)
def test_the_readme_is_for_a_newcomer(readme):
    text = readme.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 250
    assert {"make serve", "make test"} <= commands(readme)


def test_the_english_readme_links_every_page():
    every_page = {p.resolve() for p in (ROOT / "docs").glob("*.md")} | {README_ZH.resolve()}
    missing = every_page - linked_pages(README)
    assert not missing, f"pages the README does not link: {sorted(p.name for p in missing)}"


def test_the_chinese_readme_links_back_and_every_chinese_page():
    every_page = {p.resolve() for p in (ROOT / "docs" / "zh").glob("*.md")} | {README.resolve()}
    missing = every_page - linked_pages(README_ZH)
    assert not missing, f"pages README.zh-CN.md does not link: {sorted(p.name for p in missing)}"


def test_both_readmes_give_the_same_commands():
    assert commands(README_ZH) == commands(README)


def test_the_command_check_sees_a_changed_command(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("```bash\nmake serve   # starts it\ncurl -H 'A: b' \\\n     http://x/y\n```\n", encoding="utf-8")
    assert commands(page) == {"make serve", "curl -H 'A: b' http://x/y"}


def test_the_chinese_index_names_every_page_in_each_language():
    index = ROOT / "docs" / "zh" / "index.md"
    every_page = {p.resolve() for p in [*(ROOT / "docs").glob("*.md"), *(ROOT / "docs" / "zh").glob("*.md")]}
    missing = every_page - linked_pages(index) - {index.resolve()}
    assert not missing, f"pages docs/zh/index.md does not list: {sorted(str(p.relative_to(ROOT)) for p in missing)}"
