"""The model repository: a folder with a meta.json is a model served by its task, under its own name, by every door.

No code names `clothes` or `houses2`: they are copies of committed folders under other names, as a student's
own model of the same task would be. Broken and unknown folders are models that are down with their reason.
"""

import hashlib
import json
import shutil

import pytest
import torch

from app.models.torchscript import script_module
from tests.api.conftest import MODELS, assert_error, make_client
from training.image_examples import FASHION_PIXELS

HOUSE = {"GrLivArea": 1710, "OverallQual": 7, "YearBuilt": 2003, "Neighborhood": "CollgCr"}


CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


class Unanswering(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)[:, :10] * float("nan")


def minimal(folder, network=MODELS / "fashion" / "model.pt", classes=CLASSES):
    """A folder as docs/models.md says to make one by hand: the network and the smallest meta.json."""
    folder.mkdir()
    shutil.copy(network, folder / "model.pt")
    meta = {"task": "image-classification", "sha256": hashlib.sha256((folder / "model.pt").read_bytes()).hexdigest(),
            "input": {"shape": [-1, 1, 28, 28], "photo": "fashion-mnist"}, "output": {"classes": classes}}  # fmt: skip
    (folder / "meta.json").write_text(json.dumps(meta), encoding="utf-8")


@pytest.fixture(scope="module")
def repository(tmp_path_factory):
    """The committed models plus: a clothes classifier and a second house pricer (copies under new names),
    a folder whose meta.json is not JSON, and one whose task dlserve does not serve."""
    root = tmp_path_factory.mktemp("repository")
    for name in ("fashion", "house", "poem"):
        shutil.copytree(MODELS / name, root / name)
    shutil.copytree(MODELS / "fashion", root / "clothes")
    shutil.copytree(MODELS / "house", root / "houses2")
    meta = json.loads((root / "houses2" / "meta.json").read_text(encoding="utf-8"))
    meta.pop("endpoint", None)  # served at /predict/houses2, not at house-price a second time
    (root / "houses2" / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    minimal(root / "shirts")
    minimal(root / "three", classes=CLASSES[:3])  # the network answers 10 values
    script_module(Unanswering()).save(str(root / "unanswering.pt"))
    minimal(root / "nan", network=root / "unanswering.pt")
    (root / "broken").mkdir()
    (root / "broken" / "meta.json").write_text("{not json", encoding="utf-8")
    (root / "speech").mkdir()
    (root / "speech" / "meta.json").write_text(json.dumps({"task": "speech-recognition"}), encoding="utf-8")
    (root / "notes").mkdir()  # no meta.json: not a model
    return root


@pytest.fixture(scope="module")
def served(repository):
    with make_client(model_dir=repository) as client:
        yield client


def test_every_folder_with_a_meta_json_is_a_model_and_the_broken_ones_are_down_with_why(served):
    listing = {entry["name"]: entry for entry in served.get("/models").json()}
    assert set(listing) == {
        "broken",
        "clothes",
        "fashion",
        "house",
        "houses2",
        "nan",
        "poem",
        "shirts",
        "speech",
        "three",
    }
    assert listing["clothes"]["status"] == listing["houses2"]["status"] == "ready"
    ready = assert_error(served.get("/health/ready"), 503, "not_ready")
    assert "not valid JSON" in ready["models"]["broken"]
    assert "speech-recognition" in ready["models"]["speech"]
    assert "answers 10 values but meta.json names 3 classes" in ready["models"]["three"]
    assert "NaN or infinity" in ready["models"]["nan"]
    assert ready["models"]["fashion"] == ready["models"]["house"] == ready["models"]["poem"] == "ready"


def test_a_copied_classifier_answers_like_its_original_under_its_own_name(served):
    want = served.post("/predict/fashion", json={"pixels": FASHION_PIXELS})
    got = served.post("/predict/clothes", json={"pixels": FASHION_PIXELS})
    assert want.status_code == got.status_code == 200, got.text
    assert got.json() == want.json()
    batch = served.post("/predict/clothes", json=[{"pixels": FASHION_PIXELS}] * 2)
    assert batch.status_code == 200 and batch.json() == [want.json()] * 2


def test_a_folder_with_the_smallest_meta_json_classifies_like_the_model_it_holds(served):
    want = served.post("/predict/fashion", json={"pixels": FASHION_PIXELS}).json()
    got = served.post("/predict/shirts", json={"pixels": FASHION_PIXELS})
    assert got.status_code == 200, got.text
    assert got.json()["label"] == want["label"] and got.json()["class_name"] == want["class_name"]
    assert got.json()["probabilities"] == pytest.approx(want["probabilities"], abs=1e-5)


def test_a_copied_tabular_model_prices_like_its_original(served):
    want = served.post("/predict/house-price", json=HOUSE)
    got = served.post("/predict/houses2", json=HOUSE)
    assert want.status_code == got.status_code == 200, got.text
    assert got.json() == want.json()


def test_the_protocol_door_serves_the_new_names_too(served):
    pixels = {"name": "pixels", "shape": [1, 784], "datatype": "UINT8", "data": FASHION_PIXELS}
    want = served.post("/v2/models/fashion/infer", json={"inputs": [pixels]})
    got = served.post("/v2/models/clothes/infer", json={"inputs": [pixels]})
    assert want.status_code == got.status_code == 200, got.text
    assert got.json()["outputs"] == want.json()["outputs"] and got.json()["model_name"] == "clothes"
    assert served.get("/v2/models/clothes/ready").status_code == 200


def test_a_model_that_is_down_answers_503_with_its_reason_on_its_own_path(served):
    assert_error(served.post("/predict/broken", json={"pixels": [0] * 784}), 503, "model_unavailable", "not valid JSON")


def test_swagger_offers_each_model_with_its_own_path(served):
    paths = served.get("/openapi.json").json()["paths"]
    assert {"/predict/clothes", "/predict/clothes/batch", "/predict/houses2", "/generate/poem"} <= set(paths)


def test_a_name_that_is_no_folder_is_404(served):
    assert_error(served.post("/predict/notes", json={"pixels": [0] * 784}), 404, "not_found")
