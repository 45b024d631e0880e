"""`python -m tools.audit_dependencies` (in `make test`): the serving dependencies against known vulnerabilities.

What it audits: the packages `pip install .` puts in the environment (dlserve's own requirements, no extras,
and theirs, recursively), at the versions installed here — the set the Docker image ships. It asks
pip-audit's default service (PyPI's JSON API, which carries the PyPA advisory database) about each.

What it decides, and why it cannot pass or fail by luck:
- a known vulnerability that tools/audit_exemptions.toml does not justify fails the run, naming the
  package, the advisory and the fixed versions;
- a package the service could not answer for (no network, or a PyPI mirror without the JSON API) is
  not audited, and the run says so in one line naming how many — and passes, since an unreachable
  service says nothing about the packages. `AUDIT_STRICT=1` (a release pipeline with the internet)
  makes "not audited" a failure instead, so an audit that could not happen is never taken for one that
  passed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

EXEMPTIONS = Path(__file__).with_name("audit_exemptions.toml")
PROJECT = "dlserve"


def serving_set(project: str = PROJECT) -> dict[str, str]:
    """{name: installed version} of everything `pip install <project>` needs at run time, recursively."""
    found: dict[str, str] = {}
    pending = [Requirement(r) for r in metadata.requires(project) or []]
    while pending:
        requirement = pending.pop()
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue  # an extra's requirement, or another platform's
        name = canonicalize_name(requirement.name)
        if name in found:
            continue
        found[name] = metadata.version(name)
        pending += [Requirement(r) for r in metadata.requires(name) or []]
    return dict(sorted(found.items()))


def load_exemptions(path: Path = EXEMPTIONS) -> dict[str, str]:
    """{advisory id: why it does not apply to dlserve}; every entry must say why."""
    entries = tomllib.loads(path.read_text(encoding="utf-8")).get("exemption", [])
    for entry in entries:
        if not entry.get("id") or not entry.get("reason", "").strip():
            raise SystemExit(f"{path.name}: every exemption needs an id and a reason: {entry}")
    return {entry["id"]: entry["reason"] for entry in entries}


@dataclass
class Verdict:
    findings: list[str]  # unjustified vulnerabilities: each fails the audit
    exempted: list[str]
    not_audited: list[str]
    audited: int

    def passed(self, strict: bool) -> bool:
        return not self.findings and not (strict and self.not_audited)


def judge(report: dict, exemptions: dict[str, str]) -> Verdict:
    """pip-audit's JSON report, read against the exemptions."""
    findings, exempted, not_audited, audited = [], [], [], 0
    for dependency in report.get("dependencies", []):
        name, version = dependency["name"], dependency.get("version", "?")
        if "skip_reason" in dependency:
            not_audited.append(f"{name}: {dependency['skip_reason']}")
            continue
        audited += 1
        for vulnerability in dependency.get("vulns", []):
            ids = [vulnerability["id"], *vulnerability.get("aliases", [])]
            fixed = ", ".join(vulnerability.get("fix_versions", [])) or "no fixed version yet"
            line = f"{name} {version}: {vulnerability['id']} (fixed in {fixed})"
            reason = next((exemptions[i] for i in ids if i in exemptions), None)
            if reason is None:
                findings.append(f"{line}: {vulnerability.get('description', '')[:200]}")
            else:
                exempted.append(f"{line}: exempted: {reason}")
    return Verdict(findings, exempted, not_audited, audited)


def run_pip_audit(packages: dict[str, str], timeout_s: int = 15) -> tuple[dict | None, str]:
    """pip-audit's JSON report for exactly these pins (no resolution), or None and why there is none."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as pins:
        pins.write("".join(f"{name}=={version}\n" for name, version in packages.items()))
    try:
        command = [sys.executable, "-m", "pip_audit", "--requirement", pins.name, "--no-deps", "--disable-pip",
                   "--format", "json", "--progress-spinner", "off", "--timeout", str(timeout_s)]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    finally:
        os.unlink(pins.name)
    try:
        return json.loads(done.stdout), ""
    except json.JSONDecodeError:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return None, f"pip-audit could not run an audit (exit {done.returncode}): {last}"


def print_verdict(verdict: Verdict, total: int, strict: bool) -> None:
    print(f"dependency audit: {total} serving packages, {verdict.audited} audited")
    for line in verdict.findings:
        print(f"  VULNERABLE {line}")
    for line in verdict.exempted:
        print(f"  {line}")
    if verdict.not_audited:
        first = verdict.not_audited[0]
        print(f"  NOT AUDITED: {len(verdict.not_audited)} of {total} packages (the advisory service did not answer "
              f"for them; first: {first}){' — AUDIT_STRICT=1 makes this a failure' if strict else ''}")  # fmt: skip


def main(argv: Iterable[str] | None = None) -> int:
    strict = os.environ.get("AUDIT_STRICT") == "1"
    packages = serving_set()
    report, failure = run_pip_audit(packages)
    if report is None:
        report = {"dependencies": [{"name": n, "version": v, "skip_reason": failure} for n, v in packages.items()]}
    verdict = judge(report, load_exemptions())
    print_verdict(verdict, len(packages), strict)
    return 0 if verdict.passed(strict) else 1


if __name__ == "__main__":
    raise SystemExit(main())
