"""Liveness, readiness and the model metadata endpoints, with all committed models and with broken ones."""

import hashlib
import json
import shutil

import pytest

from tests.api.conftest import MODELS, assert_error, make_client

NAMES = ["digit", "fashion", "house", "poem"]


def test_live(client):
    assert client.get("/health/live").json() == {"status": "alive"}


def test_ready_when_every_model_is_loaded_and_warmed(client):
    response = client.get("/health/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "models": dict.fromkeys(NAMES, "ready")}


def test_models_lists_status_device_version_metrics_and_checksum(client):
    listing = client.get("/models").json()
    assert [m["name"] for m in listing] == NAMES
    for entry in listing:
        assert entry["status"] == "ready"
        assert entry["device"] == "cpu"
        assert entry["load_seconds"] > 0
        assert len(entry["sha256"]) == 64
        assert entry["metrics"] and entry["baseline"]["metrics"]
        assert "input" in entry


def test_one_model_has_its_full_metadata(client):
    body = client.get("/models/fashion").json()
    assert body["output"]["classes_zh"][0] == "T恤/上衣"
    assert body["history"]  # the full meta.json, not the summary


def test_unknown_model_is_404(client):
    assert_error(client.get("/models/cat"), 404, "not_found", "no model named 'cat'")


def test_broken_checkpoints_leave_the_rest_serving(tmp_path):
    broken = tmp_path / "models"
    shutil.copytree(MODELS, broken)
    (broken / "fashion" / "model.pt").unlink()
    corrupted = broken / "poem" / "model.pt"
    corrupted.write_bytes(corrupted.read_bytes()[:-100] + b"x" * 100)
    with make_client(model_dir=broken) as client:
        ready = client.get("/health/ready")
        body = assert_error(
            ready, 503, "not_ready", "fashion (model.pt is missing)", "poem (model.pt fails its checksum"
        )
        assert body["models"]["digit"] == "ready" and body["models"]["house"] == "ready"
        assert_error(
            client.post("/predict/fashion", json={"pixels": [0] * 784}),
            503,
            "model_unavailable",
            "the fashion model is unavailable: model.pt is missing",
        )
        assert_error(client.post("/generate/poem", json={}), 503, "model_unavailable", "poem model is unavailable")
        assert client.post("/predict/digit", json={"pixels": [0] * 784}).status_code == 200
        assert client.get("/models/poem").json()["status"] == "down"


def test_meta_that_is_not_json_is_reported(tmp_path):
    broken = tmp_path / "models"
    shutil.copytree(MODELS, broken)
    (broken / "house" / "meta.json").write_text("{not json", encoding="utf-8")
    with make_client(model_dir=broken) as client:
        assert_error(client.get("/health/ready"), 503, "not_ready", "house (meta.json is not valid JSON")


def test_the_service_reports_which_backend_serves_each_model_and_whether_it_is_optimized(client):
    models = {m["name"]: m for m in client.get("/models").json()}
    assert {name: (m["backend"]["name"], m["optimized"]) for name, m in models.items()} == {
        "digit": ("onnxruntime", False), "fashion": ("onnxruntime", False), "house": ("torchscript", False),
        "poem": ("torchscript", True),
    }  # fmt: skip
    assert models["digit"]["backend"]["why"].startswith("auto: fastest measured on the CPU")
    assert (models["digit"]["backend"]["precision"], models["fashion"]["backend"]["precision"]) == ("int8", "fp32")
    with make_client(backend="torchscript") as torchscript:
        digit = torchscript.get("/models/digit").json()
    assert digit["backend"] == {"name": "torchscript", "precision": "fp32", "why": "asked for (BACKEND=torchscript)"}
    assert digit["optimized"]


def test_start_up_objects_are_frozen_out_of_the_garbage_collectors_way(client):
    # client has run the lifespan: the models, jieba's dictionary and the rest are now permanent.
    import gc

    assert gc.get_freeze_count() > 100_000


def rehash(model_dir, name):
    """Make meta.json's sha256 agree with a changed model.pt, so the fault reaches TorchScript itself."""
    meta_path = model_dir / name / "meta.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta["sha256"] = hashlib.sha256((model_dir / name / "model.pt").read_bytes()).hexdigest()
    meta_path.write_text(json.dumps(meta), encoding="utf-8")


def test_faulty_files_take_down_only_their_model_and_say_why(tmp_path):
    broken = tmp_path / "models"
    shutil.copytree(MODELS, broken)
    digit = broken / "digit" / "model.pt"
    digit.write_bytes(digit.read_bytes()[: digit.stat().st_size // 2])  # truncated, checksum updated
    rehash(broken, "digit")
    (broken / "poem" / "vocab.json").unlink()
    (broken / "house" / "preprocess.json").write_text('{"numeric": [', encoding="utf-8")
    with make_client(model_dir=broken) as client:
        body = assert_error(client.get("/health/ready"), 503, "not_ready")
        assert body["models"]["digit"] == "down: model.pt could not be loaded by TorchScript (RuntimeError)"
        assert body["models"]["poem"] == "down: vocab.json is missing"
        assert body["models"]["house"].startswith("down: preprocess.json is not valid JSON")
        assert body["models"]["fashion"] == "ready"
        assert_error(client.post("/predict/digit", json={"pixels": [0] * 784}), 503, "model_unavailable",
                     "the digit model is unavailable: model.pt could not be loaded by TorchScript")  # fmt: skip
        assert_error(client.post("/generate/poem", json={}), 503, "model_unavailable", "vocab.json is missing")
        assert_error(client.post("/predict/house-price", json={}), 503, "model_unavailable", "preprocess.json")
        assert client.post("/predict/fashion", json={"pixels": [0] * 784}).status_code == 200


@pytest.mark.parametrize(
    ("content", "reason"),
    [(None, "rhymes.json is missing"), ('{"pingshui": {}}', "rhymes.json is not a valid rhyme table")],
)
def test_a_missing_or_broken_rhyme_table_takes_down_the_poem_model_only(tmp_path, content, reason):
    broken = tmp_path / "models"
    shutil.copytree(MODELS, broken)
    rhymes = broken / "poem" / "rhymes.json"
    rhymes.unlink() if content is None else rhymes.write_text(content, encoding="utf-8")
    with make_client(model_dir=broken) as client:
        body = assert_error(client.get("/health/ready"), 503, "not_ready")
        assert body["models"]["poem"].startswith(f"down: {reason}")
        assert body["models"]["digit"] == "ready"
