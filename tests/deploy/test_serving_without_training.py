"""Serving needs none of training: the server runs every endpoint with training's packages made unimportable.

`pip install .` (and the Docker image) installs only the serving dependencies; this proves the code agrees,
including imports made lazily inside a request: any attempt to import a blocked module fails that request.
"""

import io
import tomllib
from pathlib import Path

import httpx
import pandas as pd
import pytest

from tests.deploy.live_server import ROOT, LiveServer
from training.house_columns import EXAMPLE
from training.image_examples import DIGIT_PIXELS, FASHION_PIXELS

pytestmark = pytest.mark.live

# Modules that only `.[train]` or `.[dev]` install (httpx and pytest are the tests' own).
NOT_INSTALLED_FOR_SERVING = (
    "training", "sklearn", "scipy", "matplotlib", "tqdm", "opencc", "pypinyin", "httpx", "pytest",
)  # fmt: skip
TRAINING_DISTRIBUTIONS = {"scikit-learn", "matplotlib", "tqdm", "opencc", "pypinyin"}

# Runs in the server process before anything else: a meta-path finder that refuses the training-only modules.
BLOCKING_LAUNCHER = f"""
import importlib.abc, runpy, sys
BLOCKED = {NOT_INSTALLED_FOR_SERVING!r}
class RefuseTraining(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"serving imported {{name}}, which only training installs")
        return None
sys.meta_path.insert(0, RefuseTraining())
sys.argv = ["app"]
runpy.run_module("app", run_name="__main__", alter_sys=True)
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = LiveServer(tmp_path_factory.mktemp("serving-only") / "server.log", python_args=("-c", BLOCKING_LAUNCHER))
    try:
        live.wait_ready()
        yield live
    finally:
        live.close()


def first_rows(path: Path, rows: int) -> bytes:
    return pd.read_csv(path, nrows=rows).to_csv(index=False).encode()


def test_every_endpoint_answers_without_training_modules(server):
    digit_csv = first_rows(ROOT / "data/digit-recognizer/test.csv", 3)
    house_csv = first_rows(ROOT / "data/house-prices/test.csv", 3)
    calls = [
        ("/predict/digit", {"json": {"pixels": DIGIT_PIXELS}}),
        ("/predict/fashion", {"json": {"pixels": FASHION_PIXELS}}),
        ("/predict/house-price", {"json": EXAMPLE}),
        ("/generate/poem", {"json": {"start": "春", "line_num": 4, "line_length": 5, "seed": 1}}),
        ("/generate/poem/stream", {"json": {"start": "月", "seed": 2}}),
        ("/predict/digit/batch", {"files": {"file": ("test.csv", digit_csv)}}),
        ("/predict/house-price/batch", {"files": {"file": ("test.csv", house_csv)}}),
    ]  # fmt: skip
    for path, body in calls:
        response = httpx.post(server.url + path, timeout=60, **body)
        assert response.status_code == 200, (path, response.text, server.log()[-2000:])
    for path in ("/models", "/metrics", "/docs", "/openapi.json"):
        assert httpx.get(server.url + path, timeout=10).status_code == 200, path
    assert "only training installs" not in server.log()


def test_serving_dependencies_leave_training_packages_to_the_train_extra():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    serving = {requirement.split("[")[0].split("=")[0].split(">")[0].split("<")[0].strip().lower()
               for requirement in project["dependencies"]}  # fmt: skip
    assert not serving & (TRAINING_DISTRIBUTIONS | {"scipy", "httpx", "pytest"})
    train = " ".join(project["optional-dependencies"]["train"])
    assert all(name in train for name in TRAINING_DISTRIBUTIONS)
    assert "dlserve[train]" in project["optional-dependencies"]["dev"]


def test_a_csv_answer_is_a_real_submission(server):
    """The batch path's output still parses as Kaggle's format when only serving is installed."""
    data = first_rows(ROOT / "data/digit-recognizer/test.csv", 5)
    response = httpx.post(server.url + "/predict/digit/batch", files={"file": ("test.csv", data)}, timeout=60)
    answer = pd.read_csv(io.StringIO(response.text))
    assert list(answer.columns) == ["ImageId", "Label"] and len(answer) == 5


def test_it_stops_cleanly(server):
    assert server.terminate() == 0
    assert "only training installs" not in server.log()
