"""Loading one model folder: verified, loaded, optimized and made ready to serve.

Each model folder holds `model.pt` (TorchScript), `meta.json` (with the sha256 of model.pt)
and, for some, a side file (house: preprocess.json, poem: vocab.json). A folder whose files are
missing, corrupt or fail their checksum raises ModelLoadError with a one-line reason, which the
service (app/models/service.py) records: the other models still load, and this one's endpoints
answer 503 with that reason.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from app.models.backends import Backend, choose_backend
from app.models.optimize import optimize_for_serving
from app.models.torchscript import jit_allowed

logger = logging.getLogger("dlserve.models")

MODEL_NAMES = ("digit", "fashion", "house", "poem")
SIDE_FILES = {"house": "preprocess.json", "poem": "vocab.json"}


class ModelLoadError(Exception):
    """Why a model could not be loaded (a message for logs, /health/ready and 503 answers)."""


@dataclass
class LoadedModel:
    name: str
    module: torch.jit.ScriptModule
    meta: dict[str, Any]
    device: torch.device
    side: dict[str, Any] | None  # the parsed side file (preprocess spec or vocab), if the model has one
    load_seconds: float  # verify + load + warm-up
    loaded_at: float = field(default_factory=time.time)
    optimized: bool = False  # frozen + optimize_for_inference, checked against the committed module
    committed: torch.jit.ScriptModule | None = None  # the module as loaded, kept when `module` is another one
    backend: Backend = field(default_factory=lambda: Backend("torchscript", "not chosen yet"))

    @property
    def differentiable(self) -> torch.jit.ScriptModule:
        """The module to take gradients through: the committed one (optimized modules, ONNX Runtime sessions and
        exported programs have no backward here)."""
        return self.committed if self.committed is not None else self.module

    @property
    def version(self) -> str:
        return str(self.meta.get("version", "unknown"))


def read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelLoadError(f"{path.name} is missing") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"{path.name} is not valid JSON ({exc})") from exc


def load_model(name: str, folder: Path, device: torch.device) -> LoadedModel:
    """Verify and load one model folder; raises ModelLoadError with a one-line reason."""
    started = time.perf_counter()
    meta = read_json(folder / "meta.json")
    model_path = folder / "model.pt"
    if not model_path.exists():
        raise ModelLoadError("model.pt is missing")
    # Read once, then check and load those very bytes: a file replaced meanwhile (a reload while a
    # deployment copies new files in) cannot pass the check as one version and load as another.
    data = model_path.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != meta.get("sha256"):
        raise ModelLoadError(
            f"model.pt fails its checksum (sha256 {actual[:12]}…, meta.json says {str(meta.get('sha256'))[:12]}…)"
        )
    try:
        with jit_allowed():
            module = torch.jit.load(io.BytesIO(data), map_location=device).eval()
    except Exception as exc:  # torch raises several types for a corrupt archive
        raise ModelLoadError(f"model.pt could not be loaded by TorchScript ({type(exc).__name__})") from exc
    side = read_json(folder / SIDE_FILES[name]) if name in SIDE_FILES else None
    return LoadedModel(name, module, meta, device, side, time.perf_counter() - started)


def load_prepared(
    name: str, model_dir: Path, device: torch.device, prepare: Callable[[LoadedModel], Any], *, optimize: bool,
    backend: str = "auto", precision: str = "auto",
) -> LoadedModel:  # fmt: skip
    """Verify, load, optimize (if asked) and prepare one model: everything short of serving it."""
    started = time.perf_counter()
    folder = Path(model_dir) / name
    loaded = load_model(name, folder, device)
    loaded.committed = loaded.module

    def torchscript() -> torch.jit.ScriptModule:  # only when TorchScript is what serves
        if optimize:
            loaded.module, loaded.optimized = optimize_for_serving(name, loaded.module, loaded.side, device)
        return loaded.module

    loaded.module, loaded.backend = choose_backend(name, backend, folder, loaded.meta, loaded.side, device,
                                                   torchscript, loaded.committed, precision)  # fmt: skip
    with torch.inference_mode():
        prepare(loaded)
    loaded.load_seconds = time.perf_counter() - started
    logger.info(
        "model %s version %s on %s loaded%s and warmed in %.2f s; backend %s %s (%s)",
        name,
        loaded.version,
        device,
        ", optimized" if loaded.optimized else "",
        loaded.load_seconds,
        loaded.backend.name,
        loaded.backend.precision,
        loaded.backend.why,
    )
    return loaded


def describe_failure(exc: Exception) -> str:
    return str(exc) if isinstance(exc, ModelLoadError) else f"{type(exc).__name__}: {exc}"
