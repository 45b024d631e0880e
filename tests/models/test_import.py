"""`dlserve import`: the course's LeNet, trained here from its recipe and saved as a state_dict, becomes a served model.

The network is the course's (6.6: sigmoid LeNet, average pooling, inputs from ToTensor() in 0–1), written
in a .py file as a student writes it, trained for ten epochs on 512 real Fashion-MNIST images (a few
seconds; a sigmoid LeNet answers one class for everything after a single epoch of so few images).
"""

import csv
import io
import json
import textwrap

import pytest
import torch

from app.cli import main
from tests.api.conftest import DATA, assert_error, make_client
from training.data.images import read_image_csv

pytestmark = pytest.mark.dataset

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
LENET = textwrap.dedent("""
    import torch
    from torch import nn


    class LeNet(nn.Module):
        def __init__(self, num_classes: int = 10):
            super().__init__()
            self.net = nn.Sequential(
                nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
                nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
                nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(), nn.Linear(120, 84), nn.Sigmoid(),
                nn.Linear(84, num_classes))

        def forward(self, x):
            return self.net(x)
""")
TEST_CSV = DATA / "fashion-mnist" / "fashion-mnist_test.csv"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(folder with lenet.py and lenet.params, the eager network) — the course's files, as a student has them."""
    folder = tmp_path_factory.mktemp("student")
    (folder / "lenet.py").write_text(LENET, encoding="utf-8")
    namespace: dict = {}
    exec(compile(LENET, "lenet.py", "exec"), namespace)  # the test's own source, run as the student runs it
    torch.manual_seed(0)
    net = namespace["LeNet"]()
    images, labels = read_image_csv(DATA / "fashion-mnist" / "fashion-mnist_train.csv", require_label=True)
    x = torch.from_numpy(images[:512].astype("float32")).unsqueeze(1) / 255  # ToTensor(): 0–1
    y = torch.from_numpy(labels[:512].astype("int64"))
    optimizer = torch.optim.Adam(net.parameters(), lr=0.01)
    for _ in range(10):
        for start in range(0, 512, 32):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(net(x[start : start + 32]), y[start : start + 32]).backward()
            optimizer.step()
    torch.save(net.eval().state_dict(), folder / "lenet.params")
    return folder, net


def run(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    return exited.value.code


def import_args(folder, model_dir, *extra: str, name: str = "lenet") -> list[str]:
    return ["import", name, str(folder / "lenet.py"), "--state-dict", str(folder / "lenet.params"),
            "--classes", ",".join(CLASSES), "--input-shape", "1,28,28", "--scale", "1/255",
            "--photo", "fashion-mnist", "--model-dir", str(model_dir), *extra]  # fmt: skip


@pytest.fixture(scope="module")
def repository(trained, tmp_path_factory):
    model_dir = tmp_path_factory.mktemp("models")
    assert run(import_args(trained[0], model_dir)) == 0
    return model_dir


def test_the_imported_lenet_labels_1000_test_images_as_eager_pytorch_does(trained, repository):
    _, net = trained
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
    assert run(import_args(trained[0], repository)) == 2
    assert "exists: choose another name, or pass --force" in capsys.readouterr().err
    assert (repository / "lenet" / "meta.json").read_bytes() == before
    assert run(import_args(trained[0], repository, "--force", "--version", "2")) == 0
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
    assert run(import_args(trained[0], tmp_path, *change)) == 2
    assert reason in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_state_dict_given_as_the_network_is_refused_with_what_to_do(trained, tmp_path, capsys):
    argv = ["import", "lenet", str(trained[0] / "lenet.params"), "--classes", ",".join(CLASSES),
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


HOUSE_MLP = textwrap.dedent("""
    from torch import nn


    class HouseMLP(nn.Module):
        def __init__(self, in_features: int):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(in_features, 1))

        def forward(self, x):
            return self.net(x)
""")
HOUSES = DATA / "house-prices"


@pytest.fixture(scope="module")
def house_student(tmp_path_factory):
    """The course's house-price recipe (4.10) as a student runs it: pandas features, its linear network trained
    with Adam at lr 5 on the log-rmse loss, the state_dict saved."""
    import pandas as pd

    folder = tmp_path_factory.mktemp("house-student")
    (folder / "house_mlp.py").write_text(HOUSE_MLP, encoding="utf-8")
    train, test = pd.read_csv(HOUSES / "train.csv"), pd.read_csv(HOUSES / "test.csv")
    features = pd.concat((train.iloc[:, 1:-1], test.iloc[:, 1:]))
    numeric = [c for c in features.columns if pd.api.types.is_numeric_dtype(features[c])]  # pandas 3's text type
    features[numeric] = features[numeric].apply(lambda x: (x - x.mean()) / x.std()).fillna(0)
    features = pd.get_dummies(features, dummy_na=True).astype("float32")
    x = torch.tensor(features.to_numpy())
    n_train = len(train)
    y = torch.tensor(train.SalePrice.to_numpy(), dtype=torch.float32).reshape(-1, 1)
    namespace: dict = {}
    exec(compile(HOUSE_MLP, "house_mlp.py", "exec"), namespace)  # the test's own source, run as the student runs it
    torch.manual_seed(0)
    net = namespace["HouseMLP"](x.shape[1])
    with torch.no_grad():  # start at the mean price: from outputs below 1 the course's clamp passes no gradient
        net.net[0].bias.fill_(float(y.mean()))
    optimizer = torch.optim.Adam(net.parameters(), lr=5)
    for _ in range(30):  # log-rmse, the course's loss
        for start in range(0, n_train, 64):
            optimizer.zero_grad()
            prediction = torch.clamp(net(x[:n_train][start : start + 64]), 1, float("inf"))
            torch.sqrt(torch.nn.functional.mse_loss(prediction.log(), y[start : start + 64].log())).backward()
            optimizer.step()
    torch.save(net.eval().state_dict(), folder / "house_mlp.params")
    with torch.inference_mode():
        prices = net(x[n_train:]).reshape(-1).tolist()
    return folder, x.shape[1], prices


def test_the_courses_house_mlp_prices_kaggles_test_houses_as_eager_pytorch_does(house_student, tmp_path):
    folder, n_features, want = house_student
    argv = ["import", "houses", str(folder / "house_mlp.py"), "--state-dict", str(folder / "house_mlp.params"),
            "--task", "tabular-regression", "--args", json.dumps({"in_features": n_features}),
            "--columns-from", str(HOUSES / "train.csv"), "--columns-from", str(HOUSES / "test.csv"),
            "--model-dir", str(tmp_path)]  # fmt: skip
    assert run(argv) == 0
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
    namespace: dict = {}
    exec(compile(other, "other.py", "exec"), namespace)
    torch.save(namespace["HouseMLP"](n_features).state_dict(), tmp_path / "other.params")
    (tmp_path / "models").mkdir()
    argv = ["import", "houses", str(tmp_path / "other.py"), "--state-dict", str(tmp_path / "other.params"),
            "--task", "tabular-regression", "--args", json.dumps({"in_features": n_features}),
            "--columns-from", str(HOUSES / "train.csv"), "--columns-from", str(HOUSES / "test.csv"),
            "--model-dir", str(tmp_path / "models")]  # fmt: skip
    assert run(argv) == 2
    error = capsys.readouterr().err
    assert f"does not take {n_features} features (the course's preprocessing)" in error, error
    assert list((tmp_path / "models").iterdir()) == []
