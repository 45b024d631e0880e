"""Loading one model folder: verified, loaded, optimized and made ready to serve.

A model folder (app/models/repository.py) holds its network — `model.pt` (TorchScript), or `model.onnx` for a
model imported from ONNX (meta.json's `artifact`) — with its sha256 in meta.json, and the side files its task
names (a tabular model's preprocessing, a text model's vocabulary and rhyme tables). A folder whose files are
missing, corrupt or fail their checksum raises ModelLoadError with a one-line reason, which the service
(app/models/service.py) records: the other models still load, and this one's endpoints answer 503 with
that reason.
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

from app.models.backends import Backend, OnnxModule, choose_backend
from app.models.optimize import Probe, optimize_for_serving
from app.models.repository import Entry, read_entry
from app.models.torchscript import jit_allowed
from app.schemas.model_meta import TEXT, Spec, TabularSpec, TextSpec

logger = logging.getLogger("dlserve.models")

TORCHSCRIPT, ONNX = "model.pt", "model.onnx"  # the artifacts a folder may hold its network in


class ModelLoadError(Exception):
    """Why a model could not be loaded (a message for logs, /health/ready and 503 answers)."""


@dataclass
class LoadedModel:
    name: str
    module: Any  # a TorchScript module, or what stands in for one (an ONNX Runtime session, an exported program)
    meta: dict[str, Any]
    device: torch.device
    side: dict[str, Any] | None  # the task's side file, parsed: a tabular model's preprocessing, a text model's vocab
    load_seconds: float  # verify + load + warm-up
    task: str = ""
    spec: Spec | None = None
    rhymes: dict[str, Any] | None = None  # a text model's rhyme tables (rhymes.json), when it has them
    loaded_at: float = field(default_factory=time.time)
    optimized: bool = False  # frozen + optimize_for_inference, checked against the committed module
    committed: Any = None  # the module as loaded, kept when `module` is another one
    backend: Backend = field(default_factory=lambda: Backend("torchscript", "not chosen yet"))
    artifact: str = TORCHSCRIPT

    @property
    def differentiable(self) -> Any:
        """The module to take gradients through: the committed one (optimized modules, ONNX Runtime sessions and
        exported programs have no backward here); None for a model imported from ONNX."""
        if self.artifact != TORCHSCRIPT:
            return None
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


def side_file(spec: Spec | None) -> str | None:
    """The one side file a task reads for every model: its preprocessing or its vocabulary."""
    if isinstance(spec, TabularSpec):
        return spec.preprocess
    if isinstance(spec, TextSpec):
        return spec.vocab
    return None


def probe_of(folder: Path) -> Probe:
    """A model folder's probe without loading its network: for benchmarks and tests that load modules themselves."""
    entry = read_entry(folder.parent, folder.name)
    side_name = side_file(entry.spec)
    example = (entry.meta.get("example") or {}).get("pixels") if isinstance(entry.meta, dict) else None
    return Probe(entry.task or "", entry.spec, read_json(folder / side_name) if side_name else None, example)


def load_model(name: str, folder: Path, device: torch.device, entry: Entry | None = None) -> LoadedModel:
    """Verify and load one model folder; raises ModelLoadError with a one-line reason."""
    started = time.perf_counter()
    entry = entry or read_entry(folder.parent, name)
    if entry.problem is not None:
        raise ModelLoadError(entry.problem)
    meta = entry.meta
    artifact = meta.get("artifact", TORCHSCRIPT)
    if artifact not in (TORCHSCRIPT, ONNX):
        raise ModelLoadError(f"meta.json: artifact {artifact!r} is neither {TORCHSCRIPT} nor {ONNX}")
    if entry.task == TEXT and artifact == ONNX:
        raise ModelLoadError("a text-generation model needs model.pt: its decoder steps the network's state")
    model_path = folder / artifact
    if not model_path.exists():
        raise ModelLoadError(f"{artifact} is missing")
    # Read once, then check and load those very bytes: a file replaced meanwhile (a reload while a
    # deployment copies new files in) cannot pass the check as one version and load as another.
    data = model_path.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != meta.get("sha256"):
        raise ModelLoadError(
            f"{artifact} fails its checksum (sha256 {actual[:12]}…, meta.json says {str(meta.get('sha256'))[:12]}…)"
        )
    try:
        if artifact == ONNX:
            module: Any = OnnxModule(data, torch.get_num_threads())
        else:
            with jit_allowed():
                module = torch.jit.load(io.BytesIO(data), map_location=device).eval()
    except Exception as exc:  # torch and ONNX Runtime raise several types for a corrupt file
        runtime = "ONNX Runtime" if artifact == ONNX else "TorchScript"
        raise ModelLoadError(f"{artifact} could not be loaded by {runtime} ({type(exc).__name__})") from exc
    side_name = side_file(entry.spec)
    side = read_json(folder / side_name) if side_name else None
    rhymes_name = entry.spec.rhymes if isinstance(entry.spec, TextSpec) else None
    rhymes = read_json(folder / rhymes_name) if rhymes_name else None
    return LoadedModel(name, module, meta, device, side, time.perf_counter() - started, task=entry.task or "",
                       spec=entry.spec, rhymes=rhymes, artifact=artifact)  # fmt: skip


def load_prepared(
    name: str, model_dir: Path, device: torch.device, prepare: Callable[[LoadedModel], Any], *, optimize: bool,
    backend: str = "auto", precision: str = "auto", entry: Entry | None = None,
) -> LoadedModel:  # fmt: skip
    """Verify, load, optimize (if asked) and prepare one model: everything short of serving it."""
    started = time.perf_counter()
    folder = Path(model_dir) / name
    loaded = load_model(name, folder, device, entry)
    loaded.committed = loaded.module
    probe = Probe.of(loaded)

    def torchscript() -> torch.jit.ScriptModule:  # only when TorchScript is what serves
        if optimize:
            loaded.module, loaded.optimized = optimize_for_serving(name, loaded.module, probe, device)
        return loaded.module

    if loaded.artifact == ONNX:
        loaded.backend = Backend("onnxruntime", "model.onnx is this model's only file (imported from ONNX)")
    else:
        loaded.module, loaded.backend = choose_backend(name, backend, folder, loaded.meta, probe, device,
                                                       torchscript, loaded.committed, precision)  # fmt: skip
    with torch.inference_mode():
        prepare(loaded)
    loaded.load_seconds = time.perf_counter() - started
    logger.info(
        "model %s version %s (%s) on %s loaded%s and warmed in %.2f s; backend %s %s (%s)",
        name,
        loaded.version,
        loaded.task,
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
