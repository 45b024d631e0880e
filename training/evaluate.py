"""`make eval`: re-measure every committed model through TorchScript and compare with the course.

Loads `models/<name>/model.pt` with `torch.jit.load` (never the training classes) — and every file
`python -m training.export` wrote beside it, scored the same way — checks its
sha256 against meta.json, re-measures it on the real data, prints one table, and exits non-zero
if any model misses its target or fails its checksum.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from app.models.backends import FILES, BackendRefused, open_export
from app.models.torchscript import load_torchscript
from app.predictors.tabular_features import transform
from training.data.images import read_image_csv
from training.data.loaders import load_house, load_poems
from training.data.manifest import sha256_file
from training.data.mnist_like import DIGITS, FASHION, ImageDatasetSpec
from training.house_preprocess import TARGET
from training.poem import evaluate as poem_cross_entropy
from training.poem_eval import POEMS, evaluate_poems
from training.poem_model import Vocab

# The default poem model must beat the course recipe by a clear margin, not a rounding error, and
# meet the stronger-model target (perplexity 95, set when 108.8 was the best).
POEM_MIN_IMPROVEMENT = 0.10
POEM_MAX_PERPLEXITY = 95.0


@dataclass
class Row:
    model: str
    metric: str
    ours: float
    course: float
    target: str
    passed: bool
    trained: str


def _accuracy(model: torch.jit.ScriptModule, spec: ImageDatasetSpec, data_dir: Path) -> float:
    images, labels = read_image_csv(data_dir / spec.name / spec.test_csv, require_label=True)
    x = torch.tensor(images, dtype=torch.float32).unsqueeze(1)
    with torch.inference_mode():
        predictions = torch.cat([model(x[i : i + 1000]).argmax(1) for i in range(0, len(x), 1000)])
    return float((predictions.numpy() == labels).mean())


def _image_row(name: str, spec: ImageDatasetSpec) -> Callable[[torch.jit.ScriptModule, dict, Path, Path], Row]:
    def measure(model: torch.jit.ScriptModule, meta: dict, folder: Path, data_dir: Path) -> Row:
        ours, target = _accuracy(model, spec, data_dir), meta["target"]["min"]
        course = meta["baseline"]["metrics"]["test_accuracy"]
        return Row(name, "test accuracy", ours, course, f">= {target}", ours >= target, _trained(meta))

    return measure


def _house(model: torch.jit.ScriptModule, meta: dict, folder: Path, data_dir: Path) -> Row:
    spec = json.loads((folder / "preprocess.json").read_text(encoding="utf-8"))
    holdout = load_house(data_dir).val
    with torch.inference_mode():
        log_pred = model(torch.tensor(transform(spec, holdout), dtype=torch.float32)).double().numpy()
    ours = float(np.sqrt(np.mean((log_pred - np.log(holdout[TARGET].to_numpy(np.float64))) ** 2)))
    cv, target = meta["metrics"]["cv_log_rmse"], meta["target"]["max"]
    course = meta["baseline"]["metrics"]["holdout_log_rmse"]
    return Row(
        "house",
        f"log-RMSE 80/20 holdout (CV {cv:.4f})",
        ours,
        course,
        f"CV <= {target}",
        cv <= target,
        _trained(meta),
    )


def _poem(model: torch.jit.ScriptModule, meta: dict, folder: Path, data_dir: Path) -> Row:
    vocab = Vocab(json.loads((folder / "vocab.json").read_text(encoding="utf-8"))["tokens"])
    ours = math.exp(poem_cross_entropy(model, load_poems(data_dir).val, vocab, torch.device("cpu")))
    course = meta["baseline"]["metrics"]["val_perplexity"]
    bound = min(course * (1 - POEM_MIN_IMPROVEMENT), POEM_MAX_PERPLEXITY)
    return Row("poem", "validation perplexity", ours, course, f"<= {bound:.1f}", ours <= bound, _trained(meta))


def _trained(meta: dict) -> str:
    training = meta.get("training", {})
    return f"{training.get('train_seconds', float('nan')) / 60:.1f} min on {training.get('device', '?')}"


MEASURES: dict[str, Callable[[torch.jit.ScriptModule, dict, Path, Path], Row]] = {
    "digit": _image_row("digit", DIGITS),
    "fashion": _image_row("fashion", FASHION),
    "house": _house,
    "poem": _poem,
}


def evaluate_model(name: str, models_dir: Path, data_dir: Path) -> tuple[Row | None, str | None]:
    """(row, None) on a measurement, (None, error) when the files are missing or fail their checksum."""
    folder = models_dir / name
    meta_path, model_path = folder / "meta.json", folder / "model.pt"
    if not meta_path.exists() or not model_path.exists():
        return None, f"{name}: {folder} lacks model.pt or meta.json"
    meta: dict[str, Any] = json.loads(meta_path.read_text(encoding="utf-8"))
    actual = sha256_file(model_path)
    if actual != meta.get("sha256"):
        return None, f"{name}: sha256 of model.pt is {actual[:12]}…, meta.json says {str(meta.get('sha256'))[:12]}…"
    model = load_torchscript(str(model_path), map_location="cpu").eval()
    return MEASURES[name](model, meta, folder, data_dir), None


def evaluate_exports(name: str, models_dir: Path, data_dir: Path) -> tuple[list[Row], list[str]]:
    """The same measurement through every file `python -m training.export` wrote beside model.pt (each checked
    against its sha256 in meta.json): what ONNX Runtime and torch.export serve must score what model.pt does."""
    folder = models_dir / name
    meta: dict[str, Any] = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    rows, errors = [], []
    for backend, (key, file) in FILES.items():
        if key not in meta.get("exports", {}):
            continue
        try:
            module = open_export(backend, folder, meta, torch.device("cpu"))
        except BackendRefused as exc:
            errors.append(f"{name}: {exc}")
            continue
        row = MEASURES[name](module, meta, folder, data_dir)
        rows.append(replace(row, model=f"{name} ({file})"))
    return rows, errors


def format_table(rows: list[Row]) -> str:
    lines = [
        "| model | metric | ours | course baseline | target | pass | training |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.model} | {r.metric} | {r.ours:.4f} | {r.course:.4f} | {r.target} | "
            f"{'yes' if r.passed else 'NO'} | {r.trained} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", type=Path, default=Path("models"))
    parser.add_argument("--data-dir", type=Path, default=Path("data"))
    parser.add_argument("--only", nargs="+", choices=sorted(MEASURES), default=sorted(MEASURES))
    parser.add_argument("--poems", type=int, default=POEMS, help="sampled poems per setting in the poem section")
    args = parser.parse_args(argv)
    rows, errors = [], []
    for name in args.only:
        row, error = evaluate_model(name, args.models_dir, args.data_dir)
        if row is not None:
            rows.append(row)
            exported, export_errors = evaluate_exports(name, args.models_dir, args.data_dir)
            rows += exported
            errors += export_errors
        if error is not None:
            errors.append(error)
    print(format_table(rows))
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    if "poem" in args.only and not any(e.startswith("poem:") for e in errors):
        model = load_torchscript(str(args.models_dir / "poem" / "model.pt"), map_location="cpu").eval()
        report, poem_failures = evaluate_poems(model, args.models_dir / "poem", args.poems)
        print("\npoem section (training/poem_eval.py):\n" + "\n".join(report))
        errors += [f"poem: {failure}" for failure in poem_failures]
    failed = [r.model for r in rows if not r.passed]
    if failed:
        print(f"error: below target: {', '.join(failed)}", file=sys.stderr)
    return 1 if errors or failed else 0


if __name__ == "__main__":
    sys.exit(main())
