"""Backends: every exported file answers like model.pt on the real test sets, auto picks what it should, and a
missing, corrupt or differing file leaves TorchScript serving with a warning — never a wrong answer."""

import hashlib
import json
import logging
import shutil
from functools import cache

import numpy as np
import pytest
import torch

from app.models.backends import OnnxModule, choose_backend
from app.models.registry import load_prepared, probe_of
from app.models.torchscript import load_torchscript
from tests.api.conftest import MODELS
from training.data.images import read_image_csv
from training.export import TEST_SETS, export, real_inputs

CPU = torch.device("cpu")


def loaded(name: str, backend: str, models=MODELS, precision: str = "fp32"):
    return load_prepared(name, models, CPU, lambda _: None, optimize=True, backend=backend, precision=precision)


@cache
def reference(name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The real test images and model.pt's probabilities for them, computed once for every backend's check."""
    images, _ = read_image_csv(TEST_SETS[name], require_label=True)
    x = torch.from_numpy(images.astype(np.float32)).unsqueeze(1)
    committed = load_torchscript(str(MODELS / name / "model.pt"), map_location="cpu").eval()
    with torch.inference_mode():
        return x, torch.cat([torch.softmax(committed(chunk), 1) for chunk in x.split(1000)])


@pytest.mark.dataset
@pytest.mark.parametrize("backend", ["torchscript", "onnxruntime", "export"])
@pytest.mark.parametrize("name", ["digit", "fashion"])
def test_every_backend_answers_like_model_pt_on_all_10000_test_images(name, backend):
    """torchscript: the optimized module (OPTIMIZE_MODELS); the others: model.onnx and model.pt2."""
    served = loaded(name, backend)
    assert served.backend.name == backend and (served.optimized or backend != "torchscript")
    x, want = reference(name)
    assert len(x) == 10_000
    with torch.inference_mode():
        got = torch.cat([torch.softmax(served.module(chunk), 1) for chunk in x.split(1000)])
    assert torch.equal(want.argmax(1), got.argmax(1))
    assert float((want - got).abs().max()) <= 1e-4


@pytest.mark.parametrize("backend", ["onnxruntime", "export"])
def test_every_backend_prices_the_1459_kaggle_test_houses_like_model_pt(backend):
    served = loaded("house", backend)
    assert served.backend.name == backend
    x = real_inputs("house", MODELS / "house")
    assert len(x) == 1459
    with torch.inference_mode():
        want, got = served.committed(x).double().exp(), served.module(x).double().exp()
    assert float(((got - want).abs() / want).max()) <= 1e-4  # 0.01 %


def test_auto_serves_the_cnns_with_onnx_runtime_and_the_others_with_torchscript():
    chosen = {name: loaded(name, "auto", precision="auto").backend for name in ("digit", "fashion", "house", "poem")}
    assert {name: (b.name, b.precision) for name, b in chosen.items()} == {
        "digit": ("onnxruntime", "int8"), "fashion": ("onnxruntime", "fp32"), "house": ("torchscript", "fp32"),
        "poem": ("torchscript", "fp32")}  # fmt: skip
    assert chosen["digit"].why.startswith("auto: fastest measured on the CPU")
    served = loaded("digit", "auto")
    assert isinstance(served.module, OnnxModule) and not served.optimized  # `optimized` speaks of TorchScript
    assert loaded("digit", "torchscript").backend.name == "torchscript"


@pytest.fixture
def digit_copy(tmp_path):
    for name in ("digit", "fashion"):
        shutil.copytree(MODELS / name, tmp_path / name)
    return tmp_path


def test_a_corrupt_model_onnx_leaves_torchscript_serving_with_a_warning(digit_copy, caplog):
    path = digit_copy / "digit" / "model.onnx"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="dlserve.models"):
        served = loaded("digit", "auto", digit_copy)
    assert served.backend.name == "torchscript" and "fails its checksum" in served.backend.why
    assert "model digit is served by TorchScript, not onnxruntime: model.onnx fails its checksum" in caplog.text


def test_a_model_onnx_that_answers_otherwise_is_refused_even_with_a_matching_checksum(digit_copy, caplog):
    """Fashion's ONNX file in digit's folder, its checksum written into digit's meta.json: it loads, it runs —
    and it answers unlike digit's model.pt, so TorchScript serves."""
    folder = digit_copy / "digit"
    shutil.copy(digit_copy / "fashion" / "model.onnx", folder / "model.onnx")
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    meta["exports"]["onnx"]["sha256"] = json.loads((digit_copy / "fashion" / "meta.json").read_text())["exports"][
        "onnx"]["sha256"]  # fmt: skip
    (folder / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="dlserve.models"):
        served = loaded("digit", "onnxruntime", digit_copy)
    assert served.backend.name == "torchscript"
    assert "answers unlike model.pt" in served.backend.why and "labels changed" in caplog.text


def test_a_missing_file_or_a_garbage_one_is_refused(digit_copy):
    (digit_copy / "digit" / "model.pt2").unlink()
    assert "no model.pt2" in loaded("digit", "export", digit_copy).backend.why
    garbage = b"not an onnx model"
    (digit_copy / "digit" / "model.onnx").write_bytes(garbage)
    meta_path = digit_copy / "digit" / "meta.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta["exports"]["onnx"]["sha256"] = hashlib.sha256(garbage).hexdigest()
    meta_path.write_text(json.dumps(meta), encoding="utf-8")
    assert "model.onnx could not be loaded" in loaded("digit", "onnxruntime", digit_copy).backend.why


def test_onnx_runtime_is_not_used_on_another_device():
    committed = load_torchscript(str(MODELS / "digit" / "model.pt"), map_location="cpu")
    meta = json.loads((MODELS / "digit" / "meta.json").read_text(encoding="utf-8"))
    module, backend = choose_backend("digit", "onnxruntime", MODELS / "digit", meta, probe_of(MODELS / "digit"),
                                     torch.device("meta"),
                                     lambda: committed, committed)  # fmt: skip
    assert module is committed and "CPU only" in backend.why


def test_export_writes_verified_files_and_records_them_in_meta(tmp_path):
    shutil.copytree(MODELS / "house", tmp_path / "house")
    for file in ("model.onnx", "model.pt2"):
        (tmp_path / "house" / file).unlink()
    recorded = export("house", tmp_path)
    meta = json.loads((tmp_path / "house" / "meta.json").read_text(encoding="utf-8"))
    assert meta["exports"] == recorded and set(recorded) == {"onnx", "export"}
    assert recorded["onnx"]["verified_on_test_set"]["inputs"] == 1459
    assert recorded["onnx"]["verified_on_test_set"]["max_relative_price_difference"] <= 1e-4
    assert loaded("house", "onnxruntime", tmp_path).backend.name == "onnxruntime"


@pytest.mark.dataset
@pytest.mark.parametrize("name", ["digit", "fashion"])
def test_int8_scores_what_its_meta_says_on_all_10000_test_images(name):
    """PRECISION=int8 where the file exists; auto only where the export met the bar (digit, not fashion)."""
    served = loaded(name, "onnxruntime", precision="int8")
    assert served.backend.precision == "int8"
    record = json.loads((MODELS / name / "meta.json").read_text(encoding="utf-8"))["exports"]["onnx_int8"]
    x, want = reference(name)
    _, labels = read_image_csv(TEST_SETS[name], require_label=True)
    with torch.inference_mode():
        got = torch.cat([served.module(chunk).argmax(1) for chunk in x.split(1000)]).numpy()
    # 7-bit weights make every x86 kernel accumulate the same integers; only the float rescaling between
    # layers may round differently on another CPU, which can move a handful of the 10,000 labels.
    assert float((got == labels).mean()) == pytest.approx(record["test_accuracy"], abs=5e-4)
    agreement = float((got == want.argmax(1).numpy()).mean())
    assert agreement == pytest.approx(record["label_agreement_with_fp32"], abs=5e-4)  # model.onnx vs model.pt labels
    assert record["default"] == (agreement >= 0.999 and record["test_accuracy_fp32"] - record["test_accuracy"] <= 5e-4)
    assert loaded(name, "auto", precision="auto").backend.precision == ("int8" if record["default"] else "fp32")


def test_a_foreign_int8_file_is_refused_and_full_precision_serves(digit_copy, caplog):
    folder = digit_copy / "digit"
    shutil.copy(digit_copy / "fashion" / "model.int8.onnx", folder / "model.int8.onnx")
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    meta["exports"]["onnx_int8"]["sha256"] = hashlib.sha256((folder / "model.int8.onnx").read_bytes()).hexdigest()
    (folder / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="dlserve.models"):
        served = loaded("digit", "auto", digit_copy, precision="int8")
    assert (served.backend.name, served.backend.precision) == ("onnxruntime", "fp32")
    assert "model digit is served at full precision, not int8: it agrees with model.pt on" in caplog.text
    assert loaded("digit", "auto", precision="fp32").backend.precision == "fp32"
