"""The layers of app/ point one way: each package imports only from the ones below it (docs/architecture.md).

    core  ←  schemas  ←  predictors  ←  models  ←  inference  ←  api  ←  main, cli

Read from the source (the AST of every module), so a test fails the moment an arrow points up.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "app"
LAYERS = ["core", "schemas", "predictors", "models", "inference", "api", "main"]
TOP = {"main.py": "main", "cli.py": "main", "__main__.py": "main"}  # the entry points sit on top


def layer_of(relative: Path) -> str | None:
    """The layer of a module, from its path under app/ (None for app/__init__.py, which any layer may import)."""
    if len(relative.parts) == 1:
        return TOP.get(relative.name)
    return relative.parts[0]


def imported_layers(source: str) -> list[tuple[int, str]]:
    """(line, layer) of every import of another app module in `source`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names if node.module == "app"]
        for name in names:
            parts = name.split(".")
            if parts[0] == "app" and len(parts) > 1 and parts[1] != "__version__":
                found.append((node.lineno, TOP.get(f"{parts[1]}.py") or parts[1]))
    return found


def violations(modules: dict[Path, str]) -> list[str]:
    """Every import that points up (or sideways into an unknown package), as 'path:line: a -> b'."""
    problems = []
    for relative, source in modules.items():
        own = layer_of(relative)
        if own is None:
            continue
        if own not in LAYERS:
            problems.append(f"{relative}: in no layer (add its package to LAYERS)")
            continue
        for line, target in imported_layers(source):
            if target not in LAYERS or LAYERS.index(target) > LAYERS.index(own):
                problems.append(f"{relative}:{line}: {own} imports {target}")
    return problems


def app_modules() -> dict[Path, str]:
    return {path.relative_to(APP): path.read_text(encoding="utf-8") for path in sorted(APP.rglob("*.py"))}


def test_every_import_in_app_points_down():
    assert violations(app_modules()) == []


def test_an_import_that_points_up_is_caught():
    wrong = {
        Path("predictors/classifier.py"): "from app.models.registry import LoadedModel\n",
        Path("core/errors.py"): "import app.api.errors\n",
        Path("schemas/poem.py"): "from app.predictors import poem_generation\n",
        Path("models/service.py"): "from app.inference.images import classify\n",
        Path("api/deps.py"): "from app.main import create_app\n",
        Path("inference/images.py"): "from app.models.service import Serving\nfrom app.core.errors import NotFound\n",
    }
    assert violations(wrong) == [
        "predictors/classifier.py:1: predictors imports models",
        "core/errors.py:1: core imports api",
        "schemas/poem.py:1: schemas imports predictors",
        "models/service.py:1: models imports inference",
        "api/deps.py:1: api imports main",
    ]


def test_every_package_of_app_is_a_layer():
    packages = {path.name for path in APP.iterdir() if path.is_dir() and (path / "__init__.py").exists()}
    assert packages - {"static"} == set(LAYERS) - {"main"}


def test_the_schemas_import_no_torch_and_importing_the_app_builds_nothing():
    # One fresh interpreter for both (each costs seconds): first the schemas alone, then the app's module.
    schemas = ", ".join(f"app.schemas.{p.stem}" for p in sorted((APP / "schemas").glob("*.py")) if p.stem != "__init__")
    code = (
        f"import sys, threading; import {schemas}; print('torch' in sys.modules); "
        "import app.main; print(threading.active_count(), hasattr(app.main, 'app'))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=APP.parent, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["False", "1 False"]  # no torch; no app built, no thread started
