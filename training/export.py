"""`python -m training.export [names]`: ONNX and torch.export files beside each committed model.pt.

model.pt (TorchScript) stays the checkpoint of record. Next to it this writes, for the models where it
pays (docs/models.md#backends):

- `model.onnx`: the eager model rebuilt from meta.json with model.pt's weights, exported by torch's ONNX
  exporter (opset OPSET, a dynamic batch axis, the weights inside the one file), for ONNX Runtime;
- `model.pt2`: the same model as a `torch.export` ExportedProgram (dynamic batch), for `BACKEND=export`;
- `model.int8.onnx` (the CNNs): model.onnx quantized to 8-bit integers by ONNX Runtime (static, QDQ,
  per-channel 7-bit weights, activations calibrated on CALIBRATION training images), for `PRECISION`.

Each full-precision file is verified before it is kept: on the model's whole real test set (10,000
images; the 1,459 Kaggle test houses) it must give the labels of the eager model on every input and
probabilities within TOLERANCE (houses: prices within 0.01 %). The 8-bit file answers differently by
design: its test accuracy and its label agreement with model.onnx are measured and recorded, and it is
marked `default` only when it loses at most MAX_INT8_LOSS points of accuracy and agrees on at least
MIN_INT8_AGREEMENT of the labels. Then meta.json records the file's sha256, the exporter, the
opset and what the verification measured, so the server can refuse a file that changed since.

The poem GRU is not exported: a seed must give the same poem whatever backend serves it, and a poem
decoded by another runtime's arithmetic (logits 1e-6 apart) is not bitwise the same poem; and its
per-character step (0.6 ms at batch 1) is not where the time goes (docs/poems.md).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from app.models.torchscript import load_torchscript
from training.common import MODELS_DIR
from training.data.images import read_image_csv
from training.house import HousePriceNet
from training.image_models import build_image_model

OPSET = 20
TOLERANCE = 1e-4  # probabilities, as the start-up check of an optimized module (app/models/optimize.py)
PRICE_TOLERANCE = 1e-4  # relative: 0.01 %
EXPORTED = ("digit", "fashion", "house")
QUANTIZED = ("digit", "fashion")
CALIBRATION = 512  # training images, drawn with a fixed seed
MAX_INT8_LOSS, MIN_INT8_AGREEMENT = 0.0005, 0.999  # 0.05 accuracy points; 99.9 % of labels
DATA = Path("data")
TEST_SETS = {
    "digit": DATA / "digit-recognizer" / "test.csv",
    "fashion": DATA / "fashion-mnist" / "fashion-mnist_test.csv",
    "house": DATA / "house-prices" / "test.csv",
}


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def eager_model(name: str, folder: Path) -> nn.Module:
    """The model as its training script built it, with the weights of the committed model.pt."""
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    arch = meta["architecture"]
    if name == "house":
        model: nn.Module = HousePriceNet(**arch["args"], target_mean=0.0)  # the buffer comes with the weights
    else:
        model = build_image_model(arch["name"], arch["args"])
    committed = load_torchscript(str(folder / "model.pt"), map_location="cpu")
    model.load_state_dict(committed.state_dict())
    return model.eval()


def real_inputs(name: str, folder: Path) -> torch.Tensor:
    """The model's whole real test set, as the tensor the model takes."""
    if name == "house":
        from app.predictors.csv_input import parse_tabular_csv
        from app.predictors.tabular import TabularRegressor
        from app.schemas.model_meta import read_spec

        spec = json.loads((folder / "preprocess.json").read_text(encoding="utf-8"))
        data = TEST_SETS[name].read_bytes()
        columns = read_spec(json.loads((folder / "meta.json").read_text(encoding="utf-8")))
        _, rows = parse_tabular_csv(data, max_rows=10_000, spec=columns)
        return torch.from_numpy(np.stack(TabularRegressor(None, spec, torch.device("cpu")).features(rows)))
    images, _ = read_image_csv(TEST_SETS[name], require_label=True)
    return torch.from_numpy(images.astype(np.float32)).unsqueeze(1)


def compare(name: str, want: torch.Tensor, got: torch.Tensor) -> dict[str, Any]:
    """What the verification measured; raises ValueError past the tolerance."""
    if name == "house":
        gap = float(((got.double().exp() - want.double().exp()).abs() / want.double().exp()).max())
        if not gap <= PRICE_TOLERANCE:
            raise ValueError(f"prices differ by up to {gap:.2e} (relative; tolerance {PRICE_TOLERANCE:.0e})")
        return {"inputs": len(want), "max_relative_price_difference": gap}
    changed = int((want.argmax(1) != got.argmax(1)).sum())
    gap = float((torch.softmax(want, 1) - torch.softmax(got, 1)).abs().max())
    if changed or not gap <= TOLERANCE:
        raise ValueError(f"{changed} labels changed, probabilities differ by up to {gap:.2e}")
    return {"inputs": len(want), "labels_changed": 0, "max_probability_difference": gap}


def export_onnx(model: nn.Module, example: torch.Tensor) -> bytes:
    batch = torch.export.Dim("batch", min=1, max=4096)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's notes on torchvision ops and its own internals
        program = torch.onnx.export(model, (example,), dynamo=True, dynamic_shapes=({0: batch},),
                                    input_names=["input"], output_names=["output"], opset_version=OPSET,
                                    external_data=False, verbose=False)  # fmt: skip
    return program.model_proto.SerializeToString()


def export_program(model: nn.Module, example: torch.Tensor) -> bytes:
    program = torch.export.export(model, (example,), dynamic_shapes=({0: torch.export.Dim("batch", max=4096)},))
    buffer = io.BytesIO()
    torch.export.save(program, buffer)
    return buffer.getvalue()


def run_onnx(data: bytes, inputs: torch.Tensor) -> torch.Tensor:
    import onnxruntime

    session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    return torch.cat([torch.from_numpy(session.run(None, {"input": chunk.numpy()})[0]) for chunk in inputs.split(1000)])


def run_program(data: bytes, inputs: torch.Tensor) -> torch.Tensor:
    module = torch.export.load(io.BytesIO(data)).module()
    with torch.inference_mode():
        return torch.cat([module(chunk) for chunk in inputs.split(1000)])


CALIBRATION_SETS = {
    "digit": DATA / "digit-recognizer" / "train.csv",
    "fashion": DATA / "fashion-mnist" / "fashion-mnist_train.csv",
}


def export_int8(name: str, folder: Path, onnx_path: Path, inputs: torch.Tensor) -> dict[str, Any]:
    """model.int8.onnx from model.onnx, and what it costs in accuracy on the real test set."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    train, _ = read_image_csv(CALIBRATION_SETS[name], require_label=True)
    picked = np.random.default_rng(0).choice(len(train), CALIBRATION, replace=False)
    batches = iter(np.split(train[np.sort(picked)].astype(np.float32)[:, None], CALIBRATION // 32))

    class Calibration(CalibrationDataReader):
        def get_next(self) -> dict[str, np.ndarray] | None:
            batch = next(batches, None)
            return None if batch is None else {"input": batch}

    path = folder / "model.int8.onnx"
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(onnx_path), str(prepared))
        # reduce_range: 7-bit weights. x86 CPUs without VNNI multiply u8 × s8 pairs into a saturating int16
        # (VPMADDUBSW); with 8-bit weights that saturates on some inputs and the answers depend on the CPU
        # (fashion lost 2.5 accuracy points on one such machine). With 7 bits no sum can saturate, so every
        # x86 kernel accumulates the same integers (ONNX Runtime's quantization guide).
        quantize_static(str(prepared), str(path), Calibration(), quant_format=QuantFormat.QDQ, per_channel=True,
                        reduce_range=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)  # fmt: skip
    data = path.read_bytes()
    _, labels = read_image_csv(TEST_SETS[name], require_label=True)
    full = run_onnx(onnx_path.read_bytes(), inputs).argmax(1).numpy()
    int8 = run_onnx(data, inputs).argmax(1).numpy()
    accuracy, int8_accuracy = float((full == labels).mean()), float((int8 == labels).mean())
    agreement = float((full == int8).mean())
    default = accuracy - int8_accuracy <= MAX_INT8_LOSS and agreement >= MIN_INT8_AGREEMENT
    print(f"{name}: model.int8.onnx {len(data) / 1e6:.1f} MB, test accuracy {int8_accuracy:.4f} against "
          f"{accuracy:.4f}, {agreement:.2%} of labels as model.onnx; default: {default}")  # fmt: skip
    how = f"onnxruntime static QDQ int8, per-channel 7-bit weights (reduce_range), {CALIBRATION} calibration images"
    return {"file": path.name, "sha256": sha256_bytes(data), "quantization": how, "test_accuracy": int8_accuracy,
            "test_accuracy_fp32": accuracy, "label_agreement_with_fp32": agreement, "default": default}  # fmt: skip


def export(name: str, models_dir: Path = MODELS_DIR) -> dict[str, Any]:
    """Write, verify and record model.onnx and model.pt2 of one model; returns what meta.json now says of them."""
    folder = models_dir / name
    model = eager_model(name, folder)
    inputs = real_inputs(name, folder)
    with torch.inference_mode():
        want = torch.cat([model(chunk) for chunk in inputs.split(1000)])
    recorded = {}
    for fmt, file, write, run, how in (
        ("onnx", "model.onnx", export_onnx, run_onnx, {"exporter": f"torch.onnx (dynamo) {torch.__version__}",
                                                        "opset": OPSET}),
        ("export", "model.pt2", export_program, run_program, {"exporter": f"torch.export {torch.__version__}"}),
    ):  # fmt: skip
        data = write(model, inputs[:8].clone())  # a view would drag the whole test set along into model.pt2
        measured = compare(name, want, run(data, inputs))  # refuses before anything is written
        (folder / file).write_bytes(data)
        recorded[fmt] = {"file": file, "sha256": sha256_bytes(data), **how, "verified_on_test_set": measured}
        print(f"{name}: {file} {len(data) / 1e6:.1f} MB, {measured}")
    if name in QUANTIZED:
        recorded["onnx_int8"] = export_int8(name, folder, folder / "model.onnx", inputs)
    meta_path = folder / "meta.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta["exports"] = recorded
    meta_path.write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return recorded


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"any of {', '.join(EXPORTED)} (default: all)")
    parser.add_argument("--models-dir", type=Path, default=MODELS_DIR)
    args = parser.parse_args(argv)
    if unknown := sorted(set(args.names) - set(EXPORTED)):
        parser.error(f"not exported: {unknown} (the poem model stays TorchScript: see this module's docstring)")
    for name in args.names or EXPORTED:
        export(name, args.models_dir)


if __name__ == "__main__":
    main()
