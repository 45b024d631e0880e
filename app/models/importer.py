"""`dlserve import`: a network trained elsewhere (the course's notebooks) made into a verified model folder.

It takes a TorchScript file, an ONNX file, or a Python file defining the `nn.Module` plus the `state_dict`
the course saves (`torch.save(net.state_dict(), path)`), with the task and the class names. It writes
`MODEL_DIR/<name>/`: the network as the server loads it (`model.pt`, scripted; or `model.onnx`), and a
`meta.json` with its task spec, its sha256 and its answers to probe inputs. Before anything is written it
checks, on those probe inputs, that the network takes the input shape, answers one finite value per class,
and — loaded back from the folder exactly as the server loads it — answers like the original (the same
labels, probabilities within 1e-4). What it cannot serve it refuses with the reason (ImportRefused), and
it never replaces a model folder that is there unless asked (`force`).

This module imports image classifiers and holds what every task's import shares; a tabular model also needs
its preprocessing (app/models/import_tabular.py), a character model its vocabulary (app/models/import_text.py).
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import json
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from app.models.backends import OnnxModule
from app.models.optimize import difference, image_probe
from app.models.registry import ONNX, TORCHSCRIPT, ModelLoadError, load_model
from app.models.tasks import make_predictor
from app.models.torchscript import jit_allowed, load_torchscript, script_module
from app.predictors.classifier import network_input
from app.schemas.model_meta import IMAGE, NAME_PATTERN, MetaError, read_spec

PROBES = 64  # seeded probe images (app/models/optimize.py:image_probe): what the folder is checked on


class ImportRefused(Exception):
    """The network cannot be served as given; the message says why, in one line."""


@dataclass(frozen=True)
class Network:
    """Where a network to import comes from."""

    name: str  # the model's name to be
    source: Path  # model.pt (TorchScript), model.onnx, or a .py file defining the network
    state_dict: Path | None = None  # with a .py source: the weights the course saves
    class_name: str | None = None  # the nn.Module subclass in the .py file (the only one, if not given)
    init_args: dict[str, Any] | None = None  # keyword arguments of its constructor


@dataclass(frozen=True)
class ImageImport(Network):
    """What `dlserve import` was asked for an image classifier (the CLI's arguments)."""

    classes: list[str] = field(default_factory=list)
    shape: tuple[int, int, int] = (1, 28, 28)  # C, H, W of one image as the network takes it
    classes_zh: list[str] | None = None
    scale: float = 1.0  # 1/255 for a network trained on ToTensor()'s 0–1 pixels
    mean: list[float] | None = None
    std: list[float] | None = None
    flat: bool = False  # the network takes [N, C·H·W] rows
    photo: str = "resize"
    version: str = "1"


def target_folder(network: Network, model_dir: Path, force: bool) -> Path:
    """The folder the model will be, once its name and source are usable; ImportRefused if not."""
    if not NAME_PATTERN.match(network.name):
        raise ImportRefused(f"{network.name!r} cannot be a model name: lower-case letters, digits, '_', '.', '-'")
    target = Path(model_dir) / network.name
    if target.exists() and not force:
        raise ImportRefused(f"{target} exists: choose another name, or pass --force to replace it")
    if not network.source.is_file():
        raise ImportRefused(f"{network.source} is not a file")
    return target


def provenance(network: Network) -> dict[str, Any]:
    """meta.json's `imported`: what the folder was made from."""
    return {"from": network.source.name, "state_dict": network.state_dict and network.state_dict.name,
            "sha256": _sha256(network.source), "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "torch": torch.__version__}  # fmt: skip


def spec_of(meta: dict[str, Any]) -> Any:
    try:
        return read_spec(meta)
    except MetaError as exc:
        raise ImportRefused(str(exc).replace("meta.json: ", "").replace("Value error, ", "")) from None


@contextmanager
def staged(network: Network, model_dir: Path) -> Iterator[Path]:
    """A hidden folder beside the models to write and check the new one in; removed unless committed."""
    staging = Path(tempfile.mkdtemp(prefix=f".{network.name}-", dir=model_dir))
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_meta(folder: Path, meta: dict[str, Any]) -> None:
    (folder / "meta.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def served_predictor(folder: Path) -> tuple[Any, Any]:
    """(the loaded model, its warmed-up predictor), as the server makes them; ImportRefused if it would not serve."""
    try:
        loaded = load_model(folder.name, folder, torch.device("cpu"))
        return loaded, make_predictor(loaded)
    except (ModelLoadError, MetaError) as exc:
        raise ImportRefused(f"the folder would not serve: {exc}") from exc


def commit(staging: Path, target: Path) -> None:
    """The verified folder in place of `target` (replaced only when the caller was allowed to)."""
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)


def import_image_classifier(request: ImageImport, model_dir: Path, *, force: bool = False) -> Path:
    """Write and verify `model_dir/<name>/`; the folder, or ImportRefused saying why nothing was written."""
    target = target_folder(request, model_dir, force)
    spec, meta = _spec_and_meta(request)
    original = original_network(request)
    probes = image_probe(spec, None, count=PROBES)
    inputs = network_input(probes, spec)  # the same arithmetic the server applies before the network
    want = answers(original, inputs, "the network", f"images of shape {list(spec.shape)}")
    if want.shape != (PROBES, len(request.classes)):
        raise ImportRefused(f"the network answers shape {list(want.shape)} for {PROBES} images, but "
                            f"{len(request.classes)} classes were named")  # fmt: skip
    if not torch.isfinite(want).all():
        raise ImportRefused("the network answers NaN or infinity on the probe images")
    with staged(request, model_dir) as staging:
        artifact = write_network(request, original, staging, inputs)
        data = (staging / artifact).read_bytes()
        probabilities = torch.softmax(want.float(), 1)
        meta |= {"artifact": artifact, "sha256": hashlib.sha256(data).hexdigest(),
                 "probe": {"images": PROBES, "how": "app/models/optimize.py:image_probe, seed 0",
                           "labels": probabilities.argmax(1).tolist(),
                           "top_probability": [round(float(p), 6) for p in probabilities.max(1).values]}}  # fmt: skip
        write_meta(staging, meta)
        _check_served(staging, probes, probabilities)
        commit(staging, target)
    return target


def _spec_and_meta(request: ImageImport) -> tuple[Any, dict[str, Any]]:
    channels, height, width = request.shape
    shape = [-1, channels * height * width] if request.flat else [-1, channels, height, width]
    given: dict[str, Any] = {"shape": shape, "channels": channels, "height": height, "width": width,
                             "scale": request.scale, "photo": request.photo}  # fmt: skip
    given |= {k: v for k, v in (("mean", request.mean), ("std", request.std)) if v is not None}
    output: dict[str, Any] = {"type": "logits", "classes": request.classes}
    if request.classes_zh is not None:
        output["classes_zh"] = request.classes_zh
    meta = {"name": request.name, "version": request.version, "task": IMAGE, "input": given, "output": output,
            "imported": provenance(request)}  # fmt: skip
    return spec_of(meta), meta


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def original_network(request: Network) -> Any:
    """The network as given: a TorchScript module, an ONNX Runtime session, or the eager module with its weights."""
    suffix = request.source.suffix
    if suffix == ".onnx":
        try:
            return OnnxModule(request.source.read_bytes(), torch.get_num_threads())
        except Exception as exc:  # ONNX Runtime raises its own types for a file it cannot read
            raise ImportRefused(f"ONNX Runtime cannot load {request.source.name} ({type(exc).__name__})") from exc
    if suffix == ".py":
        return _eager(request)
    try:
        return load_torchscript(str(request.source), map_location="cpu").eval()
    except Exception as exc:  # a state_dict or a pickled module is not TorchScript
        raise ImportRefused(f"{request.source.name} is not a TorchScript file ({type(exc).__name__}); for the "
                            "state_dict the course saves, give the .py file that defines the network and "
                            "--state-dict") from exc  # fmt: skip


def _eager(request: Network) -> torch.nn.Module:
    if request.state_dict is None:
        raise ImportRefused("a network given as a .py file needs its weights: --state-dict model.params")
    spec = importlib.util.spec_from_file_location(f"dlserve_import_{request.name}", request.source)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]  # a .py path always has a spec
    sys.modules[spec.name] = module  # type: ignore[union-attr]  # scripting reads the class's source by module
    try:
        spec.loader.exec_module(module)  # type: ignore[union-attr]
    except Exception as exc:  # the student's file: any error of theirs
        raise ImportRefused(f"{request.source.name} fails to run ({type(exc).__name__}: {exc})") from exc
    defined = {name: value for name, value in vars(module).items() if inspect.isclass(value)
               and issubclass(value, torch.nn.Module) and value.__module__ == module.__name__}  # fmt: skip
    if request.class_name is not None and request.class_name not in defined:
        raise ImportRefused(f"{request.source.name} defines no nn.Module named {request.class_name!r} "
                            f"(it defines {', '.join(sorted(defined)) or 'none'})")  # fmt: skip
    if request.class_name is None and len(defined) != 1:
        raise ImportRefused(f"{request.source.name} defines {len(defined)} nn.Module classes "
                            f"({', '.join(sorted(defined)) or 'none'}): say which with --class")  # fmt: skip
    cls = defined[request.class_name or next(iter(defined))]
    try:
        network = cls(**(request.init_args or {}))
    except Exception as exc:  # wrong constructor arguments
        raise ImportRefused(f"{cls.__name__}(**{request.init_args or {}}) fails ({type(exc).__name__}: {exc})") from exc
    try:
        weights = torch.load(request.state_dict, map_location="cpu", weights_only=True)
    except Exception as exc:  # not a torch file, or one that holds more than tensors
        raise ImportRefused(f"{request.state_dict.name} is not a state_dict torch can load safely "
                            f"({type(exc).__name__})") from exc  # fmt: skip
    if not isinstance(weights, dict):
        raise ImportRefused(f"{request.state_dict.name} holds a {type(weights).__name__}, not a state_dict")
    try:
        network.load_state_dict(weights)
    except RuntimeError as exc:  # missing, unexpected or mis-shaped keys: torch's message names them
        first = str(exc).splitlines()
        raise ImportRefused(f"the state_dict does not fit {cls.__name__}: {' '.join(first[1:3]).strip()}") from exc
    return network.eval()


def reason(exc: Exception, limit: int = 200) -> str:
    """An exception as one line: its type and the first line of its message that says something."""
    said = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
    return f"{type(exc).__name__}: {said[:limit]}" if said else type(exc).__name__


def answers(network: Any, inputs: torch.Tensor, what: str, given: str = "") -> torch.Tensor:
    try:
        with torch.inference_mode():
            out = network(inputs)
    except Exception as exc:  # the network does not take this input shape
        raise ImportRefused(f"{what} does not take {given} as given ({reason(exc, 160)})") from exc
    if not isinstance(out, torch.Tensor):
        raise ImportRefused(f"{what} answers a {type(out).__name__}, not one tensor of class scores")
    return out.detach().float().cpu()


def write_network(request: Network, original: Any, folder: Path, inputs: torch.Tensor) -> str:
    """The network as the server loads it; scripted (not traced: a trace would freeze the probe's path)."""
    if request.source.suffix == ".onnx":
        shutil.copy(request.source, folder / ONNX)
        return ONNX
    if isinstance(original, torch.jit.ScriptModule):
        shutil.copy(request.source, folder / TORCHSCRIPT)
        return TORCHSCRIPT
    try:
        scripted = script_module(original)
    except Exception as exc:  # TorchScript cannot compile some Python (a class it cannot script)
        raise ImportRefused(f"TorchScript cannot compile {type(original).__name__} ({reason(exc)})") from exc
    with jit_allowed():
        scripted.save(str(folder / TORCHSCRIPT))
    problem = difference([answers(original, inputs, "the network")],
                         [answers(scripted, inputs, "the scripted network")])  # fmt: skip
    if problem is not None:
        raise ImportRefused(f"the scripted network answers unlike the original: {problem}")
    return TORCHSCRIPT


def _check_served(folder: Path, probes: torch.Tensor, want: torch.Tensor) -> None:
    """Load the folder as the server does (checksum, spec, predictor, warm-up) and compare its answers."""
    _, classifier = served_predictor(folder)
    # [C, H, W] → the H×W (or H×W×C) arrays the API hands the classifier
    images = [np.ascontiguousarray(image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0))
              for image in probes.numpy()]  # fmt: skip
    got = torch.from_numpy(np.stack(classifier.run_batch(images)))
    problem = difference([want], [got])
    if problem is not None:
        raise ImportRefused(f"the folder, loaded as the server loads it, answers unlike the original: {problem}")
