"""Helpers every training script shares: device, seeding, history and curves, export, metadata."""

from __future__ import annotations

import argparse
import json
import platform
import random
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from app.models.torchscript import load_torchscript, script_module
from training.data.manifest import sha256_file

MODELS_DIR = Path("models")
RUNS_DIR = Path("runs")  # scratch: logs and eager weights (git-ignored)
PARITY_ATOL = 1e-5


def base_parser(description: str, configs: tuple[str, ...] = ("course", "default")) -> argparse.ArgumentParser:
    """The command-line options every `python -m training.<model>` accepts."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto", help="auto = CUDA when available")
    parser.add_argument("--config", choices=configs, default="default", help="course = the baseline")
    parser.add_argument("--epochs", type=int, default=None, help="override the configuration's epochs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="tiny budget on a small slice (for tests)")
    parser.add_argument("--data-dir", type=Path, default=Path("data"))
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: models/<name>)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--reuse-baseline", action="store_true",
                        help="poem: the course recipe's numbers from models/poem/meta.json, not a new run")  # fmt: skip
    return parser


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class History:
    """Per-epoch metrics, printed as they come and saved as JSON and as a PNG of curves."""

    def __init__(self) -> None:
        self.rows: list[dict[str, float]] = []
        self.started = time.perf_counter()

    def log(self, **metrics: float) -> None:
        row = {"epoch": len(self.rows) + 1, **metrics, "elapsed_s": round(time.perf_counter() - self.started, 1)}
        self.rows.append(row)
        print("  ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()), flush=True)

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def plot(self, path: Path, title: str, panels: list[tuple[str, list[str]]]) -> None:
        """One panel per (y-label, metric names), epochs on x — like the course's loss/accuracy plots."""
        import matplotlib

        matplotlib.use("Agg")  # no display on servers and in CI
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.6), squeeze=False)
        epochs = [row["epoch"] for row in self.rows]
        for ax, (ylabel, names) in zip(axes[0], panels, strict=True):
            for name in names:
                ax.plot(epochs, [row.get(name, float("nan")) for row in self.rows], marker="o", ms=3, label=name)
            ax.set_xlabel("epoch")
            ax.set_ylabel(ylabel)
            ax.grid(alpha=0.3)
            ax.legend()
        fig.suptitle(title)
        fig.tight_layout()
        fig.savefig(path, dpi=90)
        plt.close(fig)


def export_torchscript(model: nn.Module, example: tuple[torch.Tensor, ...], path: Path) -> torch.jit.ScriptModule:
    """Script the eval-mode model on CPU, save it, reload it and demand parity with eager outputs.

    The eager weights are saved to runs/ first: scripting re-reads the model's source file, so an
    edit to it during a long run would otherwise cost the whole training.
    """
    model = model.cpu().eval()
    RUNS_DIR.mkdir(exist_ok=True)
    torch.save(model.state_dict(), RUNS_DIR / f"{path.parent.name}.state_dict.pt")
    example = tuple(t.cpu() for t in example)
    scripted = script_module(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    scripted.save(str(path))
    reloaded = load_torchscript(str(path), map_location="cpu")
    with torch.inference_mode():
        eager_out, script_out = model(*example), reloaded(*example)
    for eager, script in zip(_flatten(eager_out), _flatten(script_out), strict=True):
        diff = (eager - script).abs().max().item()
        if diff > PARITY_ATOL:
            path.unlink()
            raise RuntimeError(f"TorchScript export of {path} differs from the eager model by {diff:.2e}")
    return reloaded


def _flatten(out: Any) -> list[torch.Tensor]:
    return [t for item in out for t in _flatten(item)] if isinstance(out, (tuple, list)) else [out]


def param_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def write_meta(out_dir: Path, meta: dict[str, Any]) -> dict[str, Any]:
    """Write meta.json with the common fields (time, versions, sha256 of model.pt) and how it is served
    (training/serving_meta.py) filled in."""
    from training.serving_meta import merged, serving_part  # its examples are big: loaded only when writing

    full = {
        **merged(meta, serving_part(meta["name"])),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "sha256": sha256_file(out_dir / "model.pt"),
    }
    (out_dir / "meta.json").write_text(json.dumps(full, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return full


def describe_run(args: argparse.Namespace, device: torch.device, seconds: float) -> dict[str, Any]:
    return {
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
        "threads": torch.get_num_threads(),
        "seed": args.seed,
        "quick": args.quick,
        "train_seconds": round(seconds, 1),
    }
