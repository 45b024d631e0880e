"""The Open Inference Protocol, driven by Triton's own Python client (tritonclient[http]) against the real server.

Every answer is checked against our own endpoints for the same input: the v2 surface is another
door to the same models, not another model.
"""

from __future__ import annotations

import json
import math

import httpx
import numpy as np
import pandas as pd
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from tests.api.conftest import DATA
from tests.deploy.live_server import serving
from training.data.images import read_image_csv
from training.house_columns import COLUMNS

pytestmark = pytest.mark.live

MODELS = ("digit", "fashion", "house", "poem")
ADMIN = {"X-Admin-Key": "triton-admin"}  # the repository tests need model control on


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    log = tmp_path_factory.mktemp("v2") / "server.log"
    with serving(log, MODEL_CONTROL="explicit", ADMIN_API_KEY=ADMIN["X-Admin-Key"]) as live:
        yield live


@pytest.fixture(scope="module")
def client(server) -> triton.InferenceServerClient:
    return triton.InferenceServerClient(server.url.removeprefix("http://"), network_timeout=120.0)


def our_labels(server, path: str, images: np.ndarray) -> list[int]:
    body = [{"pixels": image.reshape(-1).tolist()} for image in images]
    return [answer["label"] for answer in httpx.post(f"{server.url}{path}", json=body, timeout=60).json()]


def pixels_input(images: np.ndarray, datatype: str = "UINT8", binary: bool = True) -> triton.InferInput:
    array = images.reshape(len(images), 784).astype(np.uint8 if datatype == "UINT8" else np.float32)
    tensor = triton.InferInput("pixels", list(array.shape), datatype)
    tensor.set_data_from_numpy(array, binary_data=binary)
    return tensor


def binary_outputs(*names: str) -> list[triton.InferRequestedOutput]:
    return [triton.InferRequestedOutput(name, binary_data=True) for name in names]


def test_server_health_and_metadata(client):
    assert client.is_server_live() and client.is_server_ready()
    metadata = client.get_server_metadata()
    assert metadata["name"] == "dlserve"
    assert {"binary_tensor_data", "model_repository", "generate"} <= set(metadata["extensions"])


@pytest.mark.parametrize("name", MODELS)
def test_model_metadata_and_readiness(client, server, name):
    version = httpx.get(f"{server.url}/models/{name}").json()["version"]
    metadata = client.get_model_metadata(name)
    assert metadata["name"] == name and metadata["versions"] == [version]
    assert metadata["platform"] == "pytorch_torchscript"
    assert all({"name", "datatype", "shape"} <= set(t) for t in metadata["inputs"] + metadata["outputs"])
    assert client.is_model_ready(name) and client.is_model_ready(name, version)
    assert client.get_model_metadata(name, version)["versions"] == [version]
    assert not client.is_model_ready(name, "9.9.9")


def test_digit_inference_with_binary_tensors_matches_the_json_path(client, server):
    images, labels = read_image_csv(DATA / "digit-recognizer" / "test.csv", require_label=True)
    images, labels = images[:200], labels[:200]
    result = client.infer("digit", [pixels_input(images)], outputs=binary_outputs("probabilities", "label"))
    predicted = result.as_numpy("label")
    probabilities = result.as_numpy("probabilities")
    assert predicted.dtype == np.int64 and probabilities.dtype == np.float32 and probabilities.shape == (200, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert predicted.tolist() == our_labels(server, "/predict/digit", images)
    assert (predicted == labels).mean() >= 0.99  # the committed model's test accuracy is 0.9966
    assert result.get_response()["model_version"] == httpx.get(f"{server.url}/models/digit").json()["version"]


def test_fp32_images_in_json_and_in_the_4d_shape_give_the_same_labels(client, server):
    images, _ = read_image_csv(DATA / "digit-recognizer" / "test.csv", require_label=True)
    images = images[:20]
    tensor = triton.InferInput("pixels", [20, 1, 28, 28], "FP32")
    tensor.set_data_from_numpy(images.reshape(20, 1, 28, 28).astype(np.float32), binary_data=False)
    result = client.infer("digit", [tensor], outputs=[triton.InferRequestedOutput("label", binary_data=False)])
    assert result.as_numpy("label").tolist() == our_labels(server, "/predict/digit", images)
    assert result.as_numpy("probabilities") is None  # only what was asked for


def test_fashion_inference_matches_the_json_path(client, server):
    images, labels = read_image_csv(DATA / "fashion-mnist" / "fashion-mnist_test.csv", require_label=True)
    images, labels = images[:100], labels[:100]
    result = client.infer("fashion", [pixels_input(images)])  # no outputs named: all, in binary
    assert result.as_numpy("label").tolist() == our_labels(server, "/predict/fashion", images)
    assert (result.as_numpy("label") == labels).mean() >= 0.9


def house_inputs(frame: pd.DataFrame, module=triton) -> list:
    """One tensor per Kaggle column, for tritonclient.http (binary) or, given it as `module`, tritonclient.grpc."""
    binary = {"binary_data": True} if module is triton else {}
    inputs = []
    for name, kind, _ in COLUMNS:
        column = frame[name]
        if kind == "text":
            array = np.array([b"" if pd.isna(v) else str(v).encode() for v in column], dtype=object)
            tensor = module.InferInput(name, [len(frame)], "BYTES")
        else:
            array = column.to_numpy(dtype=np.float64, na_value=np.nan)
            tensor = module.InferInput(name, [len(frame)], "FP64")
        tensor.set_data_from_numpy(array, **binary)
        inputs.append(tensor)
    return inputs


def test_house_prices_match_the_json_path_on_real_rows(client, server):
    frame = pd.read_csv(DATA / "house-prices" / "test.csv").head(50)
    result = client.infer("house", house_inputs(frame))
    prices = result.as_numpy("sale_price")
    assert prices.dtype == np.float64 and prices.shape == (50,)
    rows = frame.drop(columns=["Id"]).astype(object).where(frame.notna(), None).to_dict("records")
    ours = [answer["sale_price"] for answer in httpx.post(f"{server.url}/predict/house-price", json=rows).json()]
    np.testing.assert_allclose(prices, ours, atol=0.01)  # ours are rounded to the cent


def test_a_house_with_only_some_columns_is_filled_as_in_training(client, server):
    area = triton.InferInput("GrLivArea", [2], "FP64")
    area.set_data_from_numpy(np.array([1710.0, math.nan]))
    quality = triton.InferInput("OverallQual", [2], "INT64")
    quality.set_data_from_numpy(np.array([7, 5], dtype=np.int64))
    prices = client.infer("house", [area, quality]).as_numpy("sale_price")
    ours = httpx.post(
        f"{server.url}/predict/house-price", json=[{"GrLivArea": 1710, "OverallQual": 7}, {"OverallQual": 5}]
    ).json()
    np.testing.assert_allclose(prices, [a["sale_price"] for a in ours], atol=0.01)


def test_a_poem_through_infer_and_through_generate_is_the_poem_of_our_endpoint(client, server):
    text = triton.InferInput("text_input", [1], "BYTES")
    text.set_data_from_numpy(np.array(["春".encode()], dtype=object))
    options = {"line_num": 4, "line_length": 7, "seed": 7, "rhyme": "pingshui"}
    result = client.infer("poem", [text], parameters=options)
    poem = result.as_numpy("text_output")[0].decode()
    ours = httpx.post(f"{server.url}/generate/poem", json={"start": "春", **options}).json()
    assert poem == ours["poem"] and poem.startswith("春")
    generated = httpx.post(
        f"{server.url}/v2/models/poem/generate", json={"text_input": "春", "parameters": options}
    ).json()
    assert generated["text_output"] == ours["poem"] and generated["rhyme_group"] == ours["rhyme_group"]
    assert generated["model_name"] == "poem" and generated["model_version"] == ours["model_version"]


def test_generate_stream_sends_one_event_per_character(server):
    request = {"text_input": "月", "parameters": {"line_num": 4, "line_length": 5, "seed": 3}}
    with httpx.stream("POST", f"{server.url}/v2/models/poem/generate_stream", json=request, timeout=60) as answer:
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/event-stream")
        events = [line.removeprefix("data: ") for line in answer.iter_lines() if line.startswith("data: ")]
    payloads = [json.loads(event) for event in events]
    characters = "".join(p["text_output"] for p in payloads)
    assert len(payloads) == 4 * 6 + 1 and payloads[-1]["final"] is True
    assert characters == "".join(payloads[-1]["lines"]) and characters.startswith("月")


@pytest.mark.parametrize(
    ("make_input", "message"),
    [
        (lambda: _array_input("pixels", np.zeros((1, 784), np.int64), "INT64"), "must be UINT8 or FP32"),
        (lambda: _array_input("pixels", np.zeros((2, 783), np.uint8), "UINT8"), "must have shape [N, 784]"),
        (lambda: _array_input("image", np.zeros((1, 784), np.uint8), "UINT8"), "takes one input, 'pixels'"),
        (lambda: _array_input("pixels", np.full((1, 784), np.nan, np.float32), "FP32"), "values must be 0–255"),
        (lambda: _array_input("pixels", np.full((1, 784), 300, np.float32), "FP32"), "element 0 is 300"),
    ],
    ids=["datatype", "shape", "name", "nan", "range"],
)
def test_bad_tensors_are_400s_that_say_what_is_wrong(client, make_input, message):
    with pytest.raises(InferenceServerException) as raised:
        client.infer("digit", [make_input()])
    assert raised.value.status() == "400"
    assert message in raised.value.message()


def _array_input(name: str, array: np.ndarray, datatype: str) -> triton.InferInput:
    tensor = triton.InferInput(name, list(array.shape), datatype)
    tensor.set_data_from_numpy(array, binary_data=True)
    return tensor


def test_the_repository_lists_unloads_and_loads_models(client, server):
    index = {entry["name"]: entry for entry in client.get_model_repository_index()}
    assert set(index) == set(MODELS) and all(entry["state"] == "READY" for entry in index.values())
    client.unload_model("fashion", headers=ADMIN)
    try:
        assert not client.is_model_ready("fashion") and not client.is_server_ready()
        answer = httpx.post(f"{server.url}/predict/fashion", json={"pixels": [0] * 784})
        assert answer.status_code == 503 and "unloaded through the model repository API" in answer.json()["detail"]
        with pytest.raises(InferenceServerException) as raised:
            client.infer("fashion", [pixels_input(np.zeros((1, 28, 28), np.uint8))])
        assert raised.value.status() == "503" and "unloaded" in raised.value.message()
        unavailable = {e["name"]: e for e in client.get_model_repository_index()}["fashion"]
        assert unavailable["state"] == "UNAVAILABLE" and "unloaded" in unavailable["reason"]
    finally:
        client.load_model("fashion", headers=ADMIN)
    assert client.is_model_ready("fashion") and client.is_server_ready()
    images, _ = read_image_csv(DATA / "fashion-mnist" / "fashion-mnist_test.csv", require_label=True)
    result = client.infer("fashion", [pixels_input(images[:10])])
    assert result.as_numpy("label").tolist() == our_labels(server, "/predict/fashion", images[:10])


def test_an_unknown_model_is_a_404_in_the_protocols_shape(client):
    with pytest.raises(InferenceServerException) as raised:
        client.get_model_metadata("cats")
    assert raised.value.status() == "404"
    assert raised.value.message() == "unknown model 'cats'; dlserve serves digit, fashion, house, poem"
