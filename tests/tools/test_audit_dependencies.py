"""The dependency audit's verdicts, on reports in pip-audit's own JSON format, and the set it audits."""

import tomllib

import pytest

from tools.audit_dependencies import EXEMPTIONS, judge, load_exemptions, serving_set

VULNERABLE = {
    "name": "jinja2",
    "version": "3.1.2",
    "vulns": [{"id": "GHSA-h5c8-rqwp-cp95", "fix_versions": ["3.1.3"], "aliases": ["CVE-2024-22195"],
               "description": "xmlattr filter allows keys with spaces"}],
}  # fmt: skip
CLEAN = {"name": "numpy", "version": "2.2.0", "vulns": []}
UNANSWERED = {"name": "torch", "skip_reason": "Dependency not found on PyPI and could not be audited: torch (2.13.0)"}


def test_an_unjustified_vulnerability_fails_naming_the_advisory_and_the_fix():
    verdict = judge({"dependencies": [CLEAN, VULNERABLE]}, exemptions={})
    assert verdict.findings == [
        "jinja2 3.1.2: GHSA-h5c8-rqwp-cp95 (fixed in 3.1.3): xmlattr filter allows keys with spaces"
    ]
    assert verdict.audited == 2 and not verdict.passed(strict=False)


def test_an_exemption_by_id_or_alias_passes_with_its_reason_shown():
    verdict = judge({"dependencies": [VULNERABLE]}, exemptions={"CVE-2024-22195": "dlserve renders no templates"})
    assert verdict.findings == [] and verdict.passed(strict=True)
    assert verdict.exempted == [
        "jinja2 3.1.2: GHSA-h5c8-rqwp-cp95 (fixed in 3.1.3): exempted: dlserve renders no templates"
    ]


def test_an_unreachable_service_is_not_audited_and_fails_only_when_strict():
    verdict = judge({"dependencies": [CLEAN, UNANSWERED]}, exemptions={})
    assert verdict.not_audited == [f"torch: {UNANSWERED['skip_reason']}"] and verdict.audited == 1
    assert verdict.passed(strict=False) and not verdict.passed(strict=True)


def test_the_audited_set_is_what_serving_installs_and_nothing_of_the_extras():
    packages = serving_set()
    assert {"torch", "fastapi", "uvicorn", "starlette", "pydantic", "numpy", "pillow", "jieba"} <= set(packages)
    assert not {"scikit-learn", "pytest", "selenium", "tritonclient", "pip-audit"} & set(packages)  # extras only


def test_every_committed_exemption_says_why(tmp_path):
    assert isinstance(load_exemptions(), dict)
    assert "exemption" in tomllib.loads(EXEMPTIONS.read_text(encoding="utf-8"))
    bad = tmp_path / "exemptions.toml"
    bad.write_text('[[exemption]]\nid = "GHSA-1"\nreason = " "\n', encoding="utf-8")
    with pytest.raises(SystemExit, match="every exemption needs an id and a reason"):
        load_exemptions(bad)
