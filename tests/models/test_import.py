"""`dlserve import`: the course's LeNet, trained here from its recipe and saved as a state_dict, becomes a served model.

The network is the course's (6.6: sigmoid LeNet, average pooling, inputs from ToTensor() in 0–1), written
in a .py file as a student writes it, trained for ten epochs on 512 real Fashion-MNIST images (a few
seconds; a sigmoid LeNet answers one class for everything after a single epoch of so few images).
"""

import csv
import io
import json

import pytest
import torch

from app.cli import main
from tests.api.conftest import assert_error, make_client
from tests.students import (
    FASHION_CLASSES,
    FASHION_TEST,
    HOUSE_MLP,
    HOUSES,
    course_house_features,
    house_import_args,
    lenet_import_args,
    network_class,
    train_house_mlp,
    train_lenet,
)
from training.data.images import read_image_csv

pytestmark = pytest.mark.dataset

CLASSES = FASHION_CLASSES
TEST_CSV = FASHION_TEST


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """lenet.py and lenet.params, the course's files as a student has them, and the eager network."""
    return train_lenet(tmp_path_factory.mktemp("student"))


def run(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    return exited.value.code


def import_args(student, model_dir, *extra: str) -> list[str]:
    return [*lenet_import_args(student, model_dir), *extra]


@pytest.fixture(scope="module")
def repository(trained, tmp_path_factory):
    model_dir = tmp_path_factory.mktemp("models")
    assert run(import_args(trained, model_dir)) == 0
    return model_dir


def test_the_imported_lenet_labels_1000_test_images_as_eager_pytorch_does(trained, repository):
    net = trained.net
    images, _ = read_image_csv(TEST_CSV, require_label=True)
    with torch.inference_mode():
        want = net(torch.from_numpy(images[:1000].astype("float32")).unsqueeze(1) / 255).argmax(1).tolist()
    assert len(set(want)) >= 5  # a network that learnt something, so equal labels mean something
    upload = "".join(TEST_CSV.read_text(encoding="utf-8").splitlines(keepends=True)[:1001])
    with make_client(model_dir=repository) as client:
        answer = client.post("/predict/lenet/batch", files={"file": ("test.csv", upload, "text/csv")})
        assert answer.status_code == 200, answer.text
        got = [int(row["Label"]) for row in csv.DictReader(io.StringIO(answer.text))]
        assert got == want
        tensor = {"name": "pixels", "shape": [8, 784], "datatype": "UINT8", "data": images[:8].reshape(-1).tolist()}
        v2 = client.post("/v2/models/lenet/infer", json={"inputs": [tensor]})
        assert v2.status_code == 200, v2.text
        labels = next(out for out in v2.json()["outputs"] if out["name"] == "label")["data"]
        assert labels == want[:8]


def test_the_folder_records_the_source_the_checksum_and_the_probe_answers(repository):
    meta = json.loads((repository / "lenet" / "meta.json").read_text(encoding="utf-8"))
    assert meta["task"] == "image-classification" and meta["artifact"] == "model.pt"
    assert meta["input"]["scale"] == pytest.approx(1 / 255) and meta["output"]["classes"] == CLASSES
    assert meta["imported"]["from"] == "lenet.py" and meta["imported"]["state_dict"] == "lenet.params"
    assert len(meta["probe"]["labels"]) == meta["probe"]["images"] == 64
    assert sorted(p.name for p in (repository / "lenet").iterdir()) == ["meta.json", "model.pt"]


def test_an_existing_model_is_never_replaced_unless_asked(trained, repository, capsys):
    before = (repository / "lenet" / "meta.json").read_bytes()
    assert run(import_args(trained, repository)) == 2
    assert "exists: choose another name, or pass --force" in capsys.readouterr().err
    assert (repository / "lenet" / "meta.json").read_bytes() == before
    assert run(import_args(trained, repository, "--force", "--version", "2")) == 0
    assert json.loads((repository / "lenet" / "meta.json").read_text(encoding="utf-8"))["version"] == "2"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (["--classes", "a,b,c"], "answers shape [64, 10] for 64 images, but 3 classes were named"),
        (["--args", '{"num_classes": 5}'], "the state_dict does not fit LeNet"),
        (["--input-shape", "3,32,32", "--photo", "resize"], "does not take images of shape [32, 32, 3]"),
        (["--input-shape", "3,32,32"], "input.photo 'fashion-mnist' makes 28×28 grayscale images"),
        (["--class", "AlexNet"], "defines no nn.Module named 'AlexNet' (it defines LeNet)"),
    ],
)
def test_what_cannot_be_served_is_refused_with_the_reason_and_writes_nothing(trained, tmp_path, capsys, change, reason):
    assert run(import_args(trained, tmp_path, *change)) == 2
    assert reason in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_state_dict_given_as_the_network_is_refused_with_what_to_do(trained, tmp_path, capsys):
    argv = ["import", "lenet", str(trained.weights), "--classes", ",".join(CLASSES),
            "--input-shape", "1,28,28", "--model-dir", str(tmp_path)]  # fmt: skip
    assert run(argv) == 2
    assert "is not a TorchScript file" in capsys.readouterr().err and list(tmp_path.iterdir()) == []


def test_a_network_answering_nan_is_refused(tmp_path, capsys):
    (tmp_path / "nan.py").write_text(
        "import torch\n\nclass Broken(torch.nn.Module):\n    def forward(self, x):\n"
        "        return x.flatten(1)[:, :10] * float('nan')\n",
        encoding="utf-8",
    )
    torch.save({}, tmp_path / "nan.params")
    argv = ["import", "nan", str(tmp_path / "nan.py"), "--state-dict", str(tmp_path / "nan.params"), "--classes",
            ",".join(CLASSES), "--input-shape", "1,28,28", "--model-dir", str(tmp_path / "models")]  # fmt: skip
    (tmp_path / "models").mkdir()
    assert run(argv) == 2
    assert "NaN or infinity" in capsys.readouterr().err
    assert list((tmp_path / "models").iterdir()) == []


def test_the_served_model_refuses_a_wrong_image_like_any_other(repository):
    with make_client(model_dir=repository) as client:
        assert_error(client.post("/predict/lenet", json={"pixels": [0] * 10}), 422, "invalid_input")


@pytest.fixture(scope="module")
def house_student(tmp_path_factory):
    """The course's house-price recipe (4.10) as a student runs it, and the network's prices of Kaggle's test rows."""
    student = train_house_mlp(tmp_path_factory.mktemp("house-student"))
    x, _, n_train = course_house_features()
    with torch.inference_mode():
        prices = student.net(x[n_train:]).reshape(-1).tolist()
    return student, x.shape[1], prices


def test_the_courses_house_mlp_prices_kaggles_test_houses_as_eager_pytorch_does(house_student, tmp_path):
    student, n_features, want = house_student
    assert run(house_import_args(student, tmp_path)) == 0
    meta = json.loads((tmp_path / "houses" / "meta.json").read_text(encoding="utf-8"))
    assert meta["output"]["field"] == "sale_price" and meta["input"]["shape"] == [-1, n_features]
    with make_client(model_dir=tmp_path) as client:
        upload = (HOUSES / "test.csv").read_bytes()
        answer = client.post("/predict/houses/batch", files={"file": ("test.csv", upload, "text/csv")})
        assert answer.status_code == 200, answer.text
        got = [float(row["SalePrice"]) for row in csv.DictReader(io.StringIO(answer.text))]
        assert min(want) > 10_000  # a network that learnt prices, so equal prices mean something
        assert got == pytest.approx(want, rel=1e-4, abs=0.005)  # the CSV writes cents
        one = client.post("/predict/houses", json={"GrLivArea": 1710, "Neighborhood": "CollgCr"})
        assert one.status_code == 200 and one.json()["sale_price"] > 0, one.text


def test_a_network_that_takes_other_features_than_the_columns_give_is_refused(house_student, tmp_path, capsys):
    _, n_features, _ = house_student
    other = HOUSE_MLP.replace("nn.Linear(in_features, 1)", "nn.Linear(in_features + 1, 1)")
    (tmp_path / "other.py").write_text(other, encoding="utf-8")
    torch.save(network_class(other, "HouseMLP")(n_features).state_dict(), tmp_path / "other.params")
    (tmp_path / "models").mkdir()
    argv = ["import", "houses", str(tmp_path / "other.py"), "--state-dict", str(tmp_path / "other.params"),
            "--task", "tabular-regression", "--args", json.dumps({"in_features": n_features}),
            "--columns-from", str(HOUSES / "train.csv"), "--columns-from", str(HOUSES / "test.csv"),
            "--model-dir", str(tmp_path / "models")]  # fmt: skip
    assert run(argv) == 2
    error = capsys.readouterr().err
    assert f"does not take {n_features} features (the course's preprocessing)" in error, error
    assert list((tmp_path / "models").iterdir()) == []
