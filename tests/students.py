"""The course's own networks, written and trained as a student writes and trains them, saved as the course saves them.

Each `train_*` writes the student's files into a folder — the .py defining the network, its `state_dict`
(`torch.save(net.state_dict(), path)`), and for the poem model its vocabulary (`json.dump(vocab, f)`) — and
returns the eager network, so a test can compare what dlserve serves with what PyTorch answers. Trained on a
few hundred real rows for seconds: enough that equal answers mean something, not a good model.
"""

from __future__ import annotations

import json
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from tests.api.conftest import DATA
from training.data.images import read_image_csv

FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot"]  # fmt: skip
# 6.6: the sigmoid LeNet with average pooling, on ToTensor()'s 0–1 pixels.
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
# 4.10: the house-price network, one linear layer over the course's pandas features.
HOUSE_MLP = textwrap.dedent("""
    from torch import nn


    class HouseMLP(nn.Module):
        def __init__(self, in_features: int):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(in_features, 1))

        def forward(self, x):
            return self.net(x)
""")
# 9.4: the poem RNN exactly as the course writes it (nn.RNN's default [steps, rows] layout, hx=None).
POETRY_RNN = textwrap.dedent("""
    from torch import nn


    class PoetryRNN(nn.Module):
        def __init__(self, vocab_size, embedding_dim=128, hidden_size=256, num_layers=1):
            super().__init__()
            self.embed = nn.Embedding(num_embeddings=vocab_size, embedding_dim=embedding_dim)
            self.rnn = nn.RNN(input_size=embedding_dim, hidden_size=hidden_size, num_layers=num_layers)
            self.linear = nn.Linear(in_features=hidden_size, out_features=vocab_size)

        def forward(self, input, hx=None):
            embed = self.embed(input)
            output, hidden = self.rnn(embed, hx)
            output = self.linear(output)
            return output, hidden
""")
HOUSES = DATA / "house-prices"
FASHION_TEST = DATA / "fashion-mnist" / "fashion-mnist_test.csv"


@dataclass(frozen=True)
class Student:
    folder: Path  # the student's files
    source: Path  # the .py
    weights: Path  # the state_dict
    net: Any  # the eager network, trained
    args: dict[str, Any]  # its constructor's arguments


def network_class(source: str, name: str) -> type:
    namespace: dict = {}
    exec(compile(source, f"{name}.py", "exec"), namespace)  # the test's own source, run as the student runs it
    return namespace[name]


def save(folder: Path, stem: str, source: str, net: Any, args: dict[str, Any]) -> Student:
    (folder / f"{stem}.py").write_text(source, encoding="utf-8")
    torch.save(net.eval().state_dict(), folder / f"{stem}.params")
    return Student(folder, folder / f"{stem}.py", folder / f"{stem}.params", net, args)


def train_lenet(folder: Path) -> Student:
    """Ten epochs on 512 real Fashion-MNIST images (a sigmoid LeNet answers one class for all after one)."""
    torch.manual_seed(0)
    net = network_class(LENET, "LeNet")()
    images, labels = read_image_csv(DATA / "fashion-mnist" / "fashion-mnist_train.csv", require_label=True)
    x = torch.from_numpy(images[:512].astype("float32")).unsqueeze(1) / 255  # ToTensor(): 0–1
    y = torch.from_numpy(labels[:512].astype("int64"))
    optimizer = torch.optim.Adam(net.parameters(), lr=0.01)
    for _ in range(10):
        for start in range(0, 512, 32):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(net(x[start : start + 32]), y[start : start + 32]).backward()
            optimizer.step()
    return save(folder, "lenet", LENET, net, {})


def lenet_import_args(student: Student, model_dir: Path, name: str = "lenet", classes: list[str] | None = None,
                      ) -> list[str]:  # fmt: skip
    return ["import", name, str(student.source), "--state-dict", str(student.weights),
            "--classes", ",".join(classes or FASHION_CLASSES), "--input-shape", "1,28,28", "--scale", "1/255",
            "--photo", "fashion-mnist", "--model-dir", str(model_dir)]  # fmt: skip


def course_house_features() -> tuple[torch.Tensor, torch.Tensor, int]:
    """(features of train and test rows together, train prices, train rows): the course's pandas steps."""
    import pandas as pd

    train, test = pd.read_csv(HOUSES / "train.csv"), pd.read_csv(HOUSES / "test.csv")
    features = pd.concat((train.iloc[:, 1:-1], test.iloc[:, 1:]))
    numeric = [c for c in features.columns if pd.api.types.is_numeric_dtype(features[c])]  # pandas 3's text type
    features[numeric] = features[numeric].apply(lambda x: (x - x.mean()) / x.std()).fillna(0)
    features = pd.get_dummies(features, dummy_na=True).astype("float32")
    prices = torch.tensor(train.SalePrice.to_numpy(), dtype=torch.float32).reshape(-1, 1)
    return torch.tensor(features.to_numpy()), prices, len(train)


def train_house_mlp(folder: Path) -> Student:
    """Adam at lr 5 on the course's log-rmse loss, 30 epochs (a second or two)."""
    x, y, n_train = course_house_features()
    torch.manual_seed(0)
    net = network_class(HOUSE_MLP, "HouseMLP")(x.shape[1])
    with torch.no_grad():  # start at the mean price: from outputs below 1 the course's clamp passes no gradient
        net.net[0].bias.fill_(float(y.mean()))
    optimizer = torch.optim.Adam(net.parameters(), lr=5)
    for _ in range(30):
        for start in range(0, n_train, 64):
            optimizer.zero_grad()
            prediction = torch.clamp(net(x[:n_train][start : start + 64]), 1, float("inf"))
            torch.sqrt(torch.nn.functional.mse_loss(prediction.log(), y[start : start + 64].log())).backward()
            optimizer.step()
    return save(folder, "house_mlp", HOUSE_MLP, net, {"in_features": x.shape[1]})


def house_import_args(student: Student, model_dir: Path, name: str = "houses") -> list[str]:
    return ["import", name, str(student.source), "--state-dict", str(student.weights),
            "--task", "tabular-regression", "--args", json.dumps(student.args),
            "--columns-from", str(HOUSES / "train.csv"), "--columns-from", str(HOUSES / "test.csv"),
            "--model-dir", str(model_dir)]  # fmt: skip


def course_poems(count: int) -> list[list[str]]:
    """The course's process_poems: each poem's characters, its punctuation stripped."""
    lines = (DATA / "poems" / "poems.txt").read_text(encoding="utf-8").splitlines()[:count]
    return [list(re.sub(r"[，。、？！：]", "", line).strip()) for line in lines]


def train_poetry_rnn(folder: Path, poems: int = 120) -> Student:
    """The course's windows of 24 characters (x = s[i:i+24], y = s[i+1:i+25]), Adam lr 1e-3, one epoch of
    `poems` poems with a smaller network than the course's 256/512 (seconds, not hours). The vocabulary is
    `sorted` where the course lists a set, so the test is the same every run; the course saves it as given."""
    texts = course_poems(poems)
    vocab = [*sorted({c for poem in texts for c in poem}), "<UNK>"]
    word2idx = {word: i for i, word in enumerate(vocab)}
    windows = [[word2idx[c] for c in poem[i : i + 25]] for poem in texts for i in range(len(poem) - 24)]
    data = torch.tensor(windows)
    args = {"vocab_size": len(vocab), "embedding_dim": 32, "hidden_size": 64, "num_layers": 2}
    torch.manual_seed(0)
    net = network_class(POETRY_RNN, "PoetryRNN")(**args)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    for start in range(0, len(data), 32):
        x, y = data[start : start + 32, :24], data[start : start + 32, 1:]
        output, _ = net(x)
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(output.transpose(1, 2), y).backward()
        optimizer.step()
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    return save(folder, "poetry", POETRY_RNN, net, args)


def poem_import_args(student: Student, model_dir: Path, name: str = "tang", *extra: str) -> list[str]:
    return ["import", name, str(student.source), "--state-dict", str(student.weights), "--task", "text-generation",
            "--args", json.dumps(student.args), "--vocab", str(student.folder / "vocab.json"),
            "--model-dir", str(model_dir), *extra]  # fmt: skip
