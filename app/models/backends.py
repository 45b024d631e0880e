"""Which runtime serves a model: TorchScript (model.pt, the checkpoint), ONNX Runtime (model.onnx) or
torch.export (model.pt2), the last two written beside model.pt by `python -m training.export`.

`BACKEND=auto` (the default) takes, per task and device, the backend measured fastest for it
(AUTO_ON_CPU, from `python -m bench.inference`; docs/performance.md): on the CPU, ONNX Runtime for image
classifiers (the CNNs) that have model.onnx; TorchScript for tabular models (the house MLP: a call costs
0.02 ms either way), for text generation (a seed must give the same poem whatever serves it: another
runtime's arithmetic would change some draws) and on CUDA.
A fixed choice rather than a race at start-up: the same deployment serves the same way on every start.
`BACKEND=onnxruntime` or `export` asks for that backend for every model that has the file.

Where ONNX Runtime serves, `PRECISION` picks the file: `auto` (the default) takes `model.int8.onnx` for a
model whose meta.json marks it `default` — it lost at most 0.05 accuracy points and agreed on at least
99.9 % of the test labels when it was exported (digit: 99.65 % against 99.66 %, 99.99 % agreement; fashion
agrees on 99.78 % only, so it stays at full precision); `int8` takes it wherever it exists; `fp32` never.
An 8-bit model answers a little differently by design, so its start-up check is looser: the sha256, then
the labels of at least INT8_PROBE_AGREEMENT of the probe inputs (a foreign model agrees on about a tenth).

A backend other than TorchScript is served only once it is proven: its file's sha256 is the one meta.json
records, it loads, and it answers the probe inputs like the committed TorchScript module (the same labels,
outputs within 1e-4: app/models/optimize.py's check). Otherwise the model is served by TorchScript and a
warning says why — a wrong answer is never the price of a faster one. `/models/{name}` and the start-up
log say which backend serves and why. Saliency maps (explain) always take their gradients through the
committed TorchScript module: neither ONNX Runtime sessions nor exported programs run backwards here.
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from app.models.optimize import Outputs, Probe, difference, probe_outputs
from app.schemas.model_meta import IMAGE

logger = logging.getLogger("dlserve.models")

BACKENDS = ("auto", "torchscript", "onnxruntime", "export")
FILES = {"onnxruntime": ("onnx", "model.onnx"), "export": ("export", "model.pt2")}  # meta.json "exports" key, file
AUTO_ON_CPU = {IMAGE: "onnxruntime"}
AUTO_WHY = "fastest measured on the CPU for this model (bench.inference)"


INT8 = ("onnx_int8", "model.int8.onnx")
INT8_PROBE_AGREEMENT = 0.9


@dataclass(frozen=True)
class Backend:
    name: str  # torchscript, onnxruntime or export
    why: str  # one line: asked for, chosen by auto, or why another backend was refused
    precision: str = "fp32"  # or int8 (model.int8.onnx)


class BackendRefused(Exception):
    """Why a backend's file cannot serve (missing, changed, failing to load, answering differently)."""


class OnnxModule:
    """An ONNX Runtime session called as the TorchScript module it stands in for: a CPU tensor in, one out."""

    def __init__(self, data: bytes, threads: int) -> None:
        import onnxruntime  # a serving dependency, imported only by the backend that uses it

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads  # as many as torch uses: the model's one thread fans out
        options.inter_op_num_threads = 1
        # ONNX Runtime's threads spin a while after each call, waiting for the next one: measured over HTTP
        # (bench-peers), that spinning took 1.45x the server CPU per request from the event loop and made
        # requests slower; without it a batch waits a few microseconds longer to start.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = onnxruntime.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0].name

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        array = np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float32)
        return torch.from_numpy(self.session.run(None, {self.input: array})[0])


def open_export(backend: str, folder: Path, meta: dict, device: torch.device, *, int8: bool = False) -> Any:
    """The module of an exported file, once its sha256 is the one meta.json records; BackendRefused if not."""
    key, file = INT8 if int8 else FILES[backend]
    record = meta.get("exports", {}).get(key)
    path = folder / file
    if record is None or not path.exists():
        raise BackendRefused(f"no {file} (python -m training.export writes it)")
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != record.get("sha256"):
        raise BackendRefused(f"{file} fails its checksum (meta.json records another sha256)")
    try:
        if backend == "onnxruntime":
            if device.type != "cpu":
                raise BackendRefused("ONNX Runtime is used on the CPU only")
            return OnnxModule(data, torch.get_num_threads())
        return torch.export.load(io.BytesIO(data)).module().to(device)
    except BackendRefused:
        raise
    except Exception as exc:  # a corrupt or foreign file raises many kinds
        raise BackendRefused(f"{file} could not be loaded ({type(exc).__name__})") from exc


def choose_backend(
    name: str, requested: str, folder: Path, meta: dict, probe: Probe, device: torch.device,
    torchscript: Callable[[], Any], committed: Any, precision: str = "auto",
) -> tuple[Any, Backend]:  # fmt: skip
    """(the module to serve, the backend serving it). `torchscript()` makes what TorchScript serves (maybe
    optimized: called only when TorchScript is chosen), `committed` is the module as loaded: the reference
    every other backend must agree with."""
    if requested == "torchscript":
        return torchscript(), Backend("torchscript", "asked for (BACKEND=torchscript)")
    if "exports" not in meta:  # the poem model, or a folder trained without `python -m training.export`
        return torchscript(), Backend("torchscript", "model.pt is this model's only file")
    wanted = (AUTO_ON_CPU.get(probe.task) if device.type == "cpu" else None) if requested == "auto" else requested
    outputs = probe_outputs(probe, device)
    if wanted is None or outputs is None:
        why = "auto: TorchScript is this model's backend on " + device.type if requested == "auto" else (
            f"{requested} is not offered for this model")  # fmt: skip
        return torchscript(), Backend("torchscript", why)
    try:
        candidate = open_export(wanted, folder, meta, device)
        with torch.inference_mode():
            problem = difference(outputs(committed), outputs(candidate))
        if problem is not None:
            raise BackendRefused(f"it answers unlike model.pt: {problem}")
    except BackendRefused as exc:
        logger.warning("model %s is served by TorchScript, not %s: %s", name, wanted, exc)
        return torchscript(), Backend("torchscript", f"{wanted} refused: {exc}")
    why = f"auto: {AUTO_WHY}" if requested == "auto" else f"asked for (BACKEND={requested})"
    if wanted == "onnxruntime" and (quantized := _int8(name, precision, folder, meta, device, committed, outputs)):
        return quantized[0], Backend(wanted, f"{why}; {quantized[1]}", "int8")
    return candidate, Backend(wanted, f"{why}; answers like model.pt on the probe inputs")


def _int8(name: str, precision: str, folder: Path, meta: dict, device: torch.device, committed: Any,
          outputs: Outputs) -> tuple[Any, str] | None:  # fmt: skip
    """(the 8-bit session, why) when PRECISION and meta.json call for model.int8.onnx and it passes its check."""
    record = meta["exports"].get(INT8[0])
    if precision == "fp32" or record is None or (precision == "auto" and not record.get("default")):
        return None
    try:
        module = open_export("onnxruntime", folder, meta, device, int8=True)
        with torch.inference_mode():
            want, got = outputs(committed)[0].argmax(1), outputs(module)[0].argmax(1)
        agreement = float((want == got).float().mean())
        if agreement < INT8_PROBE_AGREEMENT:
            raise BackendRefused(f"it agrees with model.pt on {agreement:.0%} of the probe labels")
    except BackendRefused as exc:
        logger.warning("model %s is served at full precision, not int8: %s", name, exc)
        return None
    return module, (f"int8 (PRECISION={precision}): test accuracy {record['test_accuracy']:.4f} against "
                    f"{record['test_accuracy_fp32']:.4f}, {record['label_agreement_with_fp32']:.2%} of labels "
                    "as full precision")  # fmt: skip
