"""The checkpoints committed under models/ are intact, load on CPU, and still meet their targets."""

import json
from pathlib import Path

import pytest

from app.models.torchscript import load_torchscript
from training import evaluate
from training.data.manifest import sha256_file

MODELS = Path(__file__).resolve().parents[2] / "models"
NAMES = ["digit", "fashion", "house", "poem"]


def _meta(name):
    return json.loads((MODELS / name / "meta.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", NAMES)
def test_checkpoint_matches_its_sha256_and_loads_on_cpu(name):
    assert sha256_file(MODELS / name / "model.pt") == _meta(name)["sha256"]
    model = load_torchscript(str(MODELS / name / "model.pt"), map_location="cpu")
    assert all(p.device.type == "cpu" for p in model.parameters())


def test_checkpoints_are_small_enough_to_commit():
    # model.pt, and for the CNNs and the house model its model.onnx and model.pt2 (the same weights each time).
    total = sum(p.stat().st_size for p in MODELS.glob("*/*") if p.is_file())
    assert total < 64 * 2**20


@pytest.mark.parametrize("name", NAMES)
def test_meta_describes_the_model(name):
    meta = _meta(name)
    for key in (
        "name",
        "version",
        "created",
        "architecture",
        "input",
        "output",
        "training",
        "metrics",
        "baseline",
        "datasets",
        "torch_version",
        "sha256",
    ):
        assert key in meta, key
    assert meta["training"]["quick"] is False
    assert meta["config"] == "default"


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.dataset
def test_remeasured_metric_matches_meta_and_meets_target(name):
    row, error = evaluate.evaluate_model(name, MODELS, Path("data"))
    assert error is None
    assert row.passed, row
    metrics = _meta(name)["metrics"]
    recorded = {
        "digit": metrics.get("test_accuracy"),
        "fashion": metrics.get("test_accuracy"),
        "house": metrics.get("holdout_log_rmse"),
        "poem": metrics.get("val_perplexity"),
    }[name]
    assert row.ours == pytest.approx(recorded, rel=1e-3)


def test_evaluate_fails_on_a_checksum_mismatch(tmp_path):
    folder = tmp_path / "digit"
    folder.mkdir()
    (folder / "model.pt").write_bytes((MODELS / "digit" / "model.pt").read_bytes() + b"tampered")
    (folder / "meta.json").write_text((MODELS / "digit" / "meta.json").read_text(encoding="utf-8"), encoding="utf-8")
    assert evaluate.main(["--models-dir", str(tmp_path), "--only", "digit"]) == 1
    row, error = evaluate.evaluate_model("digit", tmp_path, Path("data"))
    assert row is None and "sha256 of model.pt" in error


@pytest.mark.dataset
def test_make_eval_scores_every_exported_file_as_model_pt():
    row, _ = evaluate.evaluate_model("house", MODELS, Path("data"))
    exported, errors = evaluate.evaluate_exports("house", MODELS, Path("data"))
    assert errors == [] and [r.model for r in exported] == ["house (model.onnx)", "house (model.pt2)"]
    assert all(r.ours == pytest.approx(row.ours, abs=1e-6) for r in exported)
