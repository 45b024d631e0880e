"""Each training script end to end in --quick mode: train, export, reload, parity, metadata."""

import json

import pytest
import torch

from app.models.torchscript import load_torchscript
from training import digit, fashion, house, poem
from training.data.manifest import sha256_file

pytestmark = pytest.mark.training

SCRIPTS = {"digit": digit, "fashion": fashion, "house": house, "poem": poem}
DATASET_FILES = {
    "digit": ["test.csv", "train.csv"],
    "fashion": ["fashion-mnist_test.csv", "fashion-mnist_train.csv"],
    "house": ["test.csv", "train.csv"],
    "poem": ["poems.txt", "song_poems.txt"],
}
EXTRA_FILES = {"house": ["preprocess.json"], "poem": ["vocab.json"]}


@pytest.fixture(scope="module")
def quick_runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("models")
    for name, script in SCRIPTS.items():
        script.main(["--quick", "--device", "cpu", "--out", str(out / name)])
    return out


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_quick_run_writes_checkpoint_curves_and_meta(quick_runs, name):
    folder = quick_runs / name
    for file in ["model.pt", "meta.json", "training_curves.png", *EXTRA_FILES.get(name, [])]:
        assert (folder / file).stat().st_size > 0, file
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    assert meta["name"] == name
    assert meta["sha256"] == sha256_file(folder / "model.pt")
    assert meta["training"]["quick"] is True
    assert meta["torch_version"] == torch.__version__
    assert meta["architecture"]["parameters"] > 0
    assert meta["baseline"]["recipe"] == "course"
    assert sorted(meta["datasets"]) == DATASET_FILES[name]
    assert all(len(checksum) == 64 for checksum in meta["datasets"].values())
    assert (folder / "training_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("name", ["digit", "fashion"])
def test_quick_image_model_takes_raw_pixels(quick_runs, name):
    model = load_torchscript(str(quick_runs / name / "model.pt"), map_location="cpu")
    logits = model(torch.full((3, 1, 28, 28), 255.0))
    assert logits.shape == (3, 10)
    meta = json.loads((quick_runs / name / "meta.json").read_text(encoding="utf-8"))
    assert meta["input"]["range"] == [0, 255]
    assert len(meta["output"]["classes"]) == 10


def test_fashion_meta_names_classes_in_english_and_chinese(quick_runs):
    meta = json.loads((quick_runs / "fashion" / "meta.json").read_text(encoding="utf-8"))
    assert meta["output"]["classes"][0] == "T-shirt/top"
    assert meta["output"]["classes_zh"][9] == "靴子"


def test_quick_poem_model_steps_with_its_hidden_state(quick_runs):
    model = load_torchscript(str(quick_runs / "poem" / "model.pt"), map_location="cpu")
    vocab = json.loads((quick_runs / "poem" / "vocab.json").read_text(encoding="utf-8"))
    assert vocab["tokens"][:4] == ["<pad>", "<bos>", "<eos>", "<unk>"]
    hidden = model.initial_hidden(2)
    logits, hidden = model(torch.tensor([[1, 5], [1, 6]]), hidden)
    assert logits.shape == (2, 2, vocab["size"])
    args = json.loads((quick_runs / "poem" / "meta.json").read_text(encoding="utf-8"))["architecture"]["args"]
    assert hidden.shape == (args["num_layers"], 2, args["hidden_size"])
    # Feeding the two tokens one at a time gives the same logits as feeding them together.
    _, h = model(torch.tensor([[1], [1]]), model.initial_hidden(2))
    step2, _ = model(torch.tensor([[5], [6]]), h)
    torch.testing.assert_close(step2[:, 0], logits[:, 1], atol=1e-5, rtol=1e-5)


def test_quick_house_model_predicts_log_prices_from_preprocess_json(quick_runs):
    from app.predictors.tabular_features import transform
    from training.data.loaders import load_house

    spec = json.loads((quick_runs / "house" / "preprocess.json").read_text(encoding="utf-8"))
    model = load_torchscript(str(quick_runs / "house" / "model.pt"), map_location="cpu")
    test = load_house().test
    log_price = model(torch.tensor(transform(spec, test), dtype=torch.float32))
    assert log_price.shape == (len(test),)
    assert torch.isfinite(log_price).all()
    assert 10.0 < float(log_price.median()) < 13.5  # e^10 ≈ 22 k$, e^13.5 ≈ 730 k$
