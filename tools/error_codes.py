"""`python -m tools.error_codes`: every error `code` the service can answer, read from its source, and those the
playground cannot yet say in Chinese.

A code reaches a client from one of four places, all literal in app/: a typed error's class default
(`code = "invalid_image"`), a more specific one given where it is raised (`code="queue_full"`), an answer built
by hand (`{"code": "not_ready"}`), or the table of the HTTP framework's own refusals (`_HTTP_CODES`). The scan
reads the syntax, not the running service, so it sees a code on a path no test reaches. The playground's
Chinese texts are app/static/playground/errors_zh.json; a code missing there ships untranslated, which
tests/api/test_error_texts.py refuses.
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEXTS = ROOT / "app" / "static" / "playground" / "errors_zh.json"


def _string(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def codes_in(tree: ast.AST) -> set[str]:
    found: set[str | None] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):  # a typed error's default: `code = "..."` in its body
            for statement in node.body:
                if isinstance(statement, ast.Assign | ast.AnnAssign):
                    targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
                    if any(isinstance(t, ast.Name) and t.id == "code" for t in targets):
                        found.add(_string(statement.value))
        elif isinstance(node, ast.Call):  # raised with a more specific one: `InvalidInput(..., code="...")`
            found.update(_string(k.value) for k in node.keywords if k.arg == "code")
        elif isinstance(node, ast.Dict):  # an answer built by hand: `{"detail": ..., "code": "..."}`
            found.update(_string(v) for k, v in zip(node.keys, node.values, strict=True) if _string(k) == "code")
        elif (  # a table of them: `_HTTP_CODES = {405: "method_not_allowed", ...}`
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Dict)
            and any(isinstance(t, ast.Name) and t.id.endswith("_CODES") for t in node.targets)
        ):
            found.update(_string(v) for v in node.value.values)
    return {code for code in found if code}


def emitted_codes(source: Path = ROOT / "app") -> set[str]:
    """Every code a module under `source` can put in an answer (JSON `code`, gRPC `dlserve-code`, a stream event)."""
    codes: set[str] = set()
    for path in sorted(source.rglob("*.py")):
        if "_pb2" not in path.name:  # generated protobuf modules hold no codes of ours
            codes |= codes_in(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    return codes


def chinese_texts(path: Path = TEXTS) -> dict[str, dict[str, str]]:
    return json.loads(path.read_text(encoding="utf-8"))


def untranslated(codes: set[str], texts: dict[str, dict[str, str]]) -> list[str]:
    return sorted(code for code in codes if not texts["codes"].get(code, "").strip())


def main() -> int:
    codes = emitted_codes()
    missing = untranslated(codes, chinese_texts())
    for code in sorted(codes):
        print(f"{code:24} {'MISSING a Chinese text' if code in missing else 'ok'}")
    if missing:
        print(f"{len(missing)} code(s) without a Chinese text in {TEXTS.relative_to(ROOT)}", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
