"""The training loop, augmentation, evaluation and export shared by the digit and fashion models."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from app.core.device import resolve_device
from training.common import (
    MODELS_DIR,
    History,
    base_parser,
    describe_run,
    export_torchscript,
    param_count,
    seed_everything,
    write_meta,
)
from training.data.images import N_PIXELS
from training.data.loaders import ImageSplits
from training.data.manifest import dataset_checksums
from training.data.mnist_like import ImageDatasetSpec
from training.image_models import build_image_model


@dataclass(frozen=True)
class Augment:
    """Random geometry applied per image on the fly (angles in degrees, shifts in pixels)."""

    rotate: float = 0.0
    scale: float = 0.0
    shift: float = 0.0
    hflip: bool = False
    erase_p: float = 0.0  # probability of blanking a random rectangle (random erasing)


@dataclass(frozen=True)
class ClassifierConfig:
    arch: str
    arch_args: dict[str, Any] = field(default_factory=dict)
    optimizer: str = "adamw"  # "sgd" or "adamw"
    lr: float = 3e-3
    momentum: float = 0.0
    weight_decay: float = 0.0
    schedule: str = "onecycle"  # "onecycle" or "constant"
    epochs: int = 15
    max_steps: int | None = None  # the course counts iterations, not epochs
    batch_size: int = 128
    label_smoothing: float = 0.0
    augment: Augment | None = None


def augment_batch(x: torch.Tensor, aug: Augment, generator: torch.Generator) -> torch.Tensor:
    """Apply a random affine map (rotation, zoom, shift, flip) and random erasing to a batch."""
    n, device = x.shape[0], x.device

    def uniform(*shape: int) -> torch.Tensor:
        return (torch.rand(*shape, generator=generator) * 2 - 1).to(device)

    angle = uniform(n) * math.radians(aug.rotate)
    scale = 1 + uniform(n) * aug.scale
    shift = uniform(n, 2) * aug.shift * 2 / x.shape[-1]  # pixels -> normalized [-1, 1] coordinates
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    if aug.hflip:
        flip = (torch.rand(n, generator=generator) < 0.5).to(device)
        theta[:, :, 0] = torch.where(flip[:, None], -theta[:, :, 0], theta[:, :, 0])
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, padding_mode="zeros", align_corners=False)
    if aug.erase_p > 0:
        size = x.shape[-1]
        h = (torch.randint(4, 13, (n, 1, 1), generator=generator)).to(device)
        w = (torch.randint(4, 13, (n, 1, 1), generator=generator)).to(device)
        top = (torch.rand(n, 1, 1, generator=generator).to(device) * (size - h)).long()
        left = (torch.rand(n, 1, 1, generator=generator).to(device) * (size - w)).long()
        rows = torch.arange(size, device=device).view(1, size, 1)
        cols = torch.arange(size, device=device).view(1, 1, size)
        box = (rows >= top) & (rows < top + h) & (cols >= left) & (cols < left + w)
        chosen = (torch.rand(n, 1, 1, generator=generator) < aug.erase_p).to(device)
        x = x.masked_fill((box & chosen)[:, None], 0.0)
    return x


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """N×28×28 uint8 -> float32 N×1×28×28 in 0–255 (the models' input contract)."""
    return torch.tensor(images, dtype=torch.float32).unsqueeze(1)  # copies: pandas hands out read-only arrays


@torch.inference_mode()
def evaluate(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, device: torch.device) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of the model in eval mode, in batches."""
    model.eval()
    total_loss, correct = 0.0, 0
    for start in range(0, len(x), 1000):
        xb, yb = x[start : start + 1000].to(device), y[start : start + 1000].to(device)
        logits = model(xb).float()
        total_loss += F.cross_entropy(logits, yb, reduction="sum").item()
        correct += (logits.argmax(1) == yb).sum().item()
    return total_loss / len(x), correct / len(x)


def _optimizer(model: torch.nn.Module, cfg: ClassifierConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    return torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)


def train_classifier(
    cfg: ClassifierConfig, data: ImageSplits, device: torch.device, seed: int
) -> tuple[torch.nn.Module, History]:
    """Train one configuration; returns the model (eval mode) and its per-epoch history."""
    seed_everything(seed)
    model = build_image_model(cfg.arch, cfg.arch_args).to(device)
    x_train, y_train = to_tensor(data.x_train), torch.tensor(data.y_train)
    x_val, y_val = to_tensor(data.x_val), torch.tensor(data.y_val)
    steps_per_epoch = math.ceil(len(x_train) / cfg.batch_size)
    total_steps = min(cfg.epochs * steps_per_epoch, cfg.max_steps or 10**12)
    optimizer = _optimizer(model, cfg)
    scheduler = (
        torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=cfg.lr, total_steps=total_steps, pct_start=0.25)
        if cfg.schedule == "onecycle"
        else None
    )
    generator = torch.Generator().manual_seed(seed)
    history, step = History(), 0
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        order = torch.randperm(len(x_train), generator=generator)
        seen, loss_sum, correct = 0, 0.0, 0
        bar = tqdm(range(0, len(order), cfg.batch_size), desc=f"epoch {epoch}/{cfg.epochs}", leave=False)
        for start in bar:
            if step >= total_steps:
                break
            idx = order[start : start + cfg.batch_size]
            xb, yb = x_train[idx].to(device), y_train[idx].to(device)
            if cfg.augment is not None:
                xb = augment_batch(xb, cfg.augment, generator)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                logits = model(xb)
            loss = F.cross_entropy(logits.float(), yb, label_smoothing=cfg.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            step += 1
            seen += len(idx)
            loss_sum += loss.item() * len(idx)
            correct += (logits.argmax(1) == yb).sum().item()
            bar.set_postfix(loss=f"{loss_sum / seen:.4f}")
        if seen == 0:
            break
        val_loss, val_acc = evaluate(model, x_val, y_val, device) if len(x_val) else (float("nan"),) * 2
        history.log(train_loss=loss_sum / seen, train_acc=correct / seen, val_loss=val_loss, val_acc=val_acc)
    return model.eval(), history


def quick_slice(data: ImageSplits) -> ImageSplits:
    """A small, class-balanced-enough slice so `--quick` runs in seconds."""
    return ImageSplits(
        data.x_train[:2000],
        data.y_train[:2000],
        data.x_val[:500],
        data.y_val[:500],
        data.x_test[:500],
        data.y_test[:500],
    )


def run_classifier_cli(
    *,
    name: str,
    args: argparse.Namespace,
    configs: dict[str, ClassifierConfig],
    data: ImageSplits,
    output_spec: dict[str, Any],
    input_spec: dict[str, Any],
    dataset_checksums: dict[str, str],
    target: float,
) -> dict[str, Any]:
    """Train the chosen configuration (and the course baseline, for the side-by-side numbers), export, write meta."""
    device = resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.quick:
        data = quick_slice(data)
        configs = {k: replace(c, epochs=1, max_steps=None) for k, c in configs.items()}
    if args.epochs:
        configs = {**configs, args.config: replace(configs[args.config], epochs=args.epochs)}
    x_test, y_test = to_tensor(data.x_test), torch.tensor(data.y_test)
    out_dir: Path = args.out or MODELS_DIR / name

    results: dict[str, dict[str, float]] = {}
    for config_name in dict.fromkeys(["course", args.config]):  # the baseline always, then the chosen one
        print(f"== {name}: training the {config_name!r} configuration on {device}", flush=True)
        model, history = train_classifier(configs[config_name], data, device, args.seed)
        test_loss, test_acc = evaluate(model, x_test, y_test, device)
        results[config_name] = {"test_accuracy": test_acc, "test_loss": test_loss, "train_seconds": history.elapsed}
        print(f"   {config_name}: test accuracy {test_acc:.4f} ({history.elapsed:.0f} s)", flush=True)

    # `model`/`history` are the chosen configuration's: it is the one we export.
    out_dir.mkdir(parents=True, exist_ok=True)
    history.plot(
        out_dir / "training_curves.png",
        f"{name} ({args.config})",
        [("loss", ["train_loss", "val_loss"]), ("accuracy", ["train_acc", "val_acc"])],
    )
    export_torchscript(model, (x_test[:64].to(device),), out_dir / "model.pt")
    cfg = configs[args.config]
    ours = results[args.config]
    meta = write_meta(
        out_dir,
        {
            "name": name,
            "version": f"1.0.0+{args.config}",
            "task": "image-classification",
            "architecture": {"name": cfg.arch, "args": cfg.arch_args, "parameters": param_count(model)},
            "input": input_spec,
            "output": output_spec,
            "config": args.config,
            "training": {**asdict(cfg), **describe_run(args, device, ours["train_seconds"])},
            "history": history.rows,
            "metrics": {"test_accuracy": round(ours["test_accuracy"], 5), "test_loss": round(ours["test_loss"], 5)},
            "target": {"metric": "test_accuracy", "min": target},
            "baseline": {
                "recipe": "course",
                "config": asdict(configs["course"]),
                "metrics": {"test_accuracy": round(results["course"]["test_accuracy"], 5)},
                "train_seconds": round(results["course"]["train_seconds"], 1),
            },
            "datasets": dataset_checksums,
        },
    )
    print(f"saved {out_dir / 'model.pt'} (sha256 {meta['sha256'][:12]}…); test accuracy {ours['test_accuracy']:.4f}")
    return meta


@dataclass(frozen=True)
class ImageTask:
    """Everything that differs between the digit and the fashion model."""

    name: str
    configs: dict[str, ClassifierConfig]
    load: Callable[[Path], ImageSplits]
    dataset: ImageDatasetSpec
    output_spec: dict[str, Any]
    input_spec: dict[str, Any]
    target: float


def main_for(task: ImageTask, description: str, argv: list[str] | None = None) -> dict[str, Any]:
    """The command line of `python -m training.digit` / `training.fashion`."""
    args = base_parser(description).parse_args(argv)
    return run_classifier_cli(
        name=task.name,
        args=args,
        configs=task.configs,
        data=task.load(args.data_dir),
        output_spec=task.output_spec,
        input_spec=task.input_spec,
        dataset_checksums=dataset_checksums(args.data_dir / task.dataset.name),
        target=task.target,
    )


IMAGE_INPUT_SPEC = {
    "shape": [-1, 1, 28, 28],
    "dtype": "float32",
    "range": [0, 255],
    "layout": "grayscale, row-major 28×28; white (255) ink on black (0) background, as in MNIST",
    "normalization": "none outside the model: scaling/standardization is inside model.pt",
    "pixels": N_PIXELS,
}
