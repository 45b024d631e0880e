"""Start-up optimization of the served TorchScript modules: freeze, then optimize_for_inference.

`torch.jit.freeze` turns the weights into constants; `torch.jit.optimize_for_inference` then folds
batch norms into convolutions, fuses operations and, on CPU, runs convolutions in oneDNN's
layout. Measured on the committed models (`python -m bench.inference`, 2 CPU threads; table in
the README): the digit and fashion CNNs run 1.5–2.3× faster at batch 64 and the poem GRU about
1.06× faster per poem; the house MLP (0.02 ms a call) gains nothing, so it is served as committed.

The committed model.pt stays the artefact of record. An optimized module is served only after
it answers like the committed one on probe inputs — the same labels (argmax) and probabilities
within 1e-4 — and if optimizing fails or differs, the committed module is served and a warning
says why. The test suite checks the same parity on all 10,000 real test images of each classifier.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from app.models.torchscript import jit_allowed
from app.predictors.classifier import network_input
from app.schemas.model_meta import IMAGE, TABULAR, TEXT, ImageSpec, Spec

logger = logging.getLogger("dlserve.models")

TOLERANCE = 1e-4
POEM_PROBE_STEPS = 32
OPTIMIZED_TASKS = (IMAGE, TEXT)  # tabular: the house MLP measured no gain
Outputs = Callable[[Any], list[torch.Tensor]]


@dataclass(frozen=True)
class Probe:
    """What it takes to make probe inputs for a model: its task and spec, its side file, an example input."""

    task: str
    spec: Spec | None
    side: dict | None = None
    example: Any = None  # meta.json's example pixels (images): probes look like real data

    @classmethod
    def of(cls, loaded: Any) -> Probe:
        example = (loaded.meta.get("example") or {}).get("pixels") if isinstance(loaded.meta, dict) else None
        return cls(loaded.task, loaded.spec, loaded.side, example)


def image_probe(spec: ImageSpec, pixels: list | None = None, count: int = 64, seed: int = 0) -> torch.Tensor:
    """A batch of real-looking raw inputs [N, C, H, W] from one real image (the model's example; else a seeded
    blot): shifted, dimmed, inverted and noisy copies."""
    rng = np.random.default_rng(seed)
    if pixels is not None and len(pixels) == spec.pixels:
        base = np.asarray(pixels, dtype=np.float32).reshape(spec.shape)
    else:
        base = np.zeros(spec.shape, dtype=np.float32)
        h, w = spec.height, spec.width
        middle = (slice(h // 4, 3 * h // 4), slice(w // 3, 2 * w // 3))
        base[middle] = rng.uniform(128, 255, base[middle].shape)
    images = []
    for i in range(count):
        image = np.roll(base, (int(rng.integers(-3, 4)), int(rng.integers(-3, 4))), axis=(0, 1))
        image = image * rng.uniform(0.4, 1.0)
        if i % 4 == 3:
            image = 255 - image
        if i % 5 == 4:
            image = image + rng.normal(0, 20, image.shape)
        images.append(np.clip(image, 0, 255))
    x = torch.from_numpy(np.stack(images).astype(np.float32))
    return x.unsqueeze(1) if x.dim() == 3 else x.permute(0, 3, 1, 2)


def _classifier_outputs(images: torch.Tensor, spec: ImageSpec, device: torch.device) -> Outputs:
    x = network_input(images, spec).to(device)

    def outputs(module: Any) -> list[torch.Tensor]:
        return [torch.softmax(module(x).float(), dim=1).cpu()]

    return outputs


def _poem_outputs(vocab_size: int, device: torch.device) -> Outputs:
    tokens = torch.randint(0, vocab_size, (1, POEM_PROBE_STEPS), generator=torch.Generator().manual_seed(0))

    def outputs(module: Any) -> list[torch.Tensor]:
        hidden = module.initial_hidden(1)
        logits, hidden = module(tokens.to(device), hidden)
        return [torch.softmax(logits.float(), dim=-1).reshape(-1, logits.shape[-1]).cpu(), hidden.float().cpu()]

    return outputs


def _tabular_outputs(width: int, device: torch.device) -> Outputs:
    features = torch.randn(64, width, generator=torch.Generator().manual_seed(0)).to(device)

    def outputs(module: Any) -> list[torch.Tensor]:
        return [module(features).double().reshape(-1, 1).cpu()]  # one column of values, so no label check

    return outputs


def probe_outputs(probe: Probe, device: torch.device) -> Outputs | None:
    """How to compare the committed module of a model with another (optimized, or another backend's)."""
    if probe.task == IMAGE and isinstance(probe.spec, ImageSpec):
        return _classifier_outputs(image_probe(probe.spec, probe.example), probe.spec, device)
    if probe.task == TEXT and probe.side is not None:
        return _poem_outputs(len(probe.side["tokens"]), device)
    if probe.task == TABULAR and probe.side is not None:
        return _tabular_outputs(int(probe.side["n_features"]), device)
    return None


def difference(expected: list[torch.Tensor], actual: list[torch.Tensor]) -> str | None:
    """Why two sets of outputs do not agree (labels or values past TOLERANCE), or None when they do."""
    for want, got in zip(expected, actual, strict=True):
        if want.shape != got.shape:
            return f"output shape {tuple(got.shape)} instead of {tuple(want.shape)}"
        if want.dim() == 2 and not torch.equal(want.argmax(dim=1), got.argmax(dim=1)):
            changed = int((want.argmax(dim=1) != got.argmax(dim=1)).sum())
            return f"{changed} of {len(want)} labels changed"
        gap = float((want - got).abs().max())
        if not gap <= TOLERANCE:  # also true for NaN
            return f"outputs differ by up to {gap:.2e} (tolerance {TOLERANCE:.0e})"
    return None


def optimize_for_serving(
    name: str, module: torch.jit.ScriptModule, probe: Probe, device: torch.device
) -> tuple[torch.jit.ScriptModule, bool]:
    """(the module to serve, whether it is the optimized one)."""
    outputs = probe_outputs(probe, device)
    if probe.task not in OPTIMIZED_TASKS or outputs is None:
        return module, False
    keep = ["initial_hidden"] if probe.task == TEXT else []
    try:
        with torch.inference_mode():
            expected = outputs(module)
        with jit_allowed():
            frozen = torch.jit.freeze(module.eval(), preserved_attrs=keep)
            optimized = torch.jit.optimize_for_inference(frozen, other_methods=keep)
        with torch.inference_mode():
            problem = difference(expected, outputs(optimized))
    except Exception as exc:  # any failure of the optimizer leaves the committed module in service
        problem = f"optimization failed ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})"
    if problem is not None:
        logger.warning("model %s is served as committed, not optimized: %s", name, problem)
        return module, False
    return optimized, True
