"""The Open Inference Protocol over gRPC, driven by Triton's own client (tritonclient.grpc) against the real server.

The server runs with an API key and model control on, as a deployment that opens the port would; every
answer is compared with a REST door's for the same input: gRPC is another door to the same core.
"""

from __future__ import annotations

import queue
import re
import threading
import time

import grpc
import httpx
import numpy as np
import pandas as pd
import pytest
import tritonclient.grpc as triton
import tritonclient.http as triton_http
from tritonclient.utils import InferenceServerException

from app.api.grpc_v2 import grpc_predict_v2_pb2 as pb
from app.api.grpc_v2 import grpc_predict_v2_pb2_grpc as pb_grpc
from tests.api.conftest import DATA
from tests.api.test_v2_tritonclient import house_inputs
from tests.deploy.live_server import serving
from training.data.images import read_image_csv

pytestmark = pytest.mark.live

MODELS = ("digit", "fashion", "house", "poem")
KEY = {"x-api-key": "grpc-user"}
ADMIN = {"x-admin-key": "grpc-admin"}
REST_KEY = {"X-API-Key": KEY["x-api-key"]}  # pass copies to tritonclient.http: it adds its own headers to the dict


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    log = tmp_path_factory.mktemp("grpc") / "server.log"
    with serving(log, API_KEY=KEY["x-api-key"], MODEL_CONTROL="explicit", ADMIN_API_KEY=ADMIN["x-admin-key"],
                 PER_CLIENT_POEMS="1") as live:  # fmt: skip
        yield live


@pytest.fixture(scope="module")
def client(server) -> triton.InferenceServerClient:
    return triton.InferenceServerClient(server.grpc_target)


@pytest.fixture(scope="module")
def rest(server) -> triton_http.InferenceServerClient:
    return triton_http.InferenceServerClient(server.url.removeprefix("http://"), network_timeout=120.0)


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    return read_image_csv(DATA / "digit-recognizer" / "test.csv", require_label=True)


def pixels(images: np.ndarray, module=triton) -> object:
    array = images.reshape(len(images), 784).astype(np.uint8)
    tensor = module.InferInput("pixels", list(array.shape), "UINT8")
    tensor.set_data_from_numpy(array, **({"binary_data": True} if module is triton_http else {}))
    return tensor


def raw_labels(server, path: str, images: np.ndarray) -> list[int]:
    """The REST raw-bytes door's labels: N×784 uint8 as application/octet-stream."""
    body = images.reshape(len(images), 784).astype(np.uint8).tobytes()
    headers = REST_KEY | {"Content-Type": "application/octet-stream"}
    answers = httpx.post(f"{server.url}{path}", content=body, headers=headers).json()
    return [answer["label"] for answer in (answers if isinstance(answers, list) else [answers])]


def refused(call) -> InferenceServerException:
    with pytest.raises(InferenceServerException) as raised:
        call()
    return raised.value


def test_health_metadata_and_readiness_are_open(client, server):
    assert client.is_server_live() and client.is_server_ready()
    metadata = client.get_server_metadata(as_json=True)
    assert metadata["name"] == "dlserve" and "model_repository" in metadata["extensions"]
    for name in MODELS:
        rest = httpx.get(f"{server.url}/v2/models/{name}").json()
        ours = client.get_model_metadata(name, as_json=True)
        assert ours["versions"] == rest["versions"] and ours["platform"] == rest["platform"]
        for door in ("inputs", "outputs"):
            assert [(t["name"], t["datatype"], [int(d) for d in t["shape"]]) for t in ours[door]] == [
                (t["name"], t["datatype"], t["shape"]) for t in rest[door]
            ]
        assert client.is_model_ready(name) and client.is_model_ready(name, rest["versions"][0])
        assert not client.is_model_ready(name, "0.0.0")
    error = refused(lambda: client.get_model_metadata("cats"))
    assert error.status() == "StatusCode.NOT_FOUND"
    assert error.message() == "unknown model 'cats'; dlserve serves digit, fashion, house, poem"


def test_a_thousand_real_digits_as_raw_uint8_tensors_match_the_rest_doors(client, rest, server, digits):
    images, labels = digits[0][:1000], digits[1][:1000]
    predicted, probabilities = [], []
    for start in range(0, 1000, 250):  # MAX_LIST_ITEMS (256) images per call, as over REST
        batch = images[start : start + 250]
        result = client.infer("digit", [pixels(batch)], headers=KEY, request_id=f"digits-{start}")
        assert result.get_response().id == f"digits-{start}"
        over_rest = rest.infer("digit", [pixels(batch, triton_http)], headers=dict(REST_KEY))
        np.testing.assert_array_equal(result.as_numpy("probabilities"), over_rest.as_numpy("probabilities"))
        predicted += result.as_numpy("label").tolist()
        probabilities.append(result.as_numpy("probabilities"))
    assert predicted == [label for start in range(0, 1000, 250)
                         for label in raw_labels(server, "/predict/digit", images[start : start + 250])]  # fmt: skip
    assert (np.array(predicted) == labels).mean() >= 0.99  # the committed model's test accuracy is 0.9966
    assert np.concatenate(probabilities).dtype == np.float32


def typed_pixels(images: np.ndarray, field: str = "uint_contents", datatype: str = "UINT8") -> pb.ModelInferRequest:
    tensor = pb.ModelInferRequest.InferInputTensor(name="pixels", datatype=datatype, shape=[len(images), 784])
    getattr(tensor.contents, field).extend(images.reshape(-1).tolist())
    return pb.ModelInferRequest(model_name="fashion", inputs=[tensor])


def test_fashion_in_typed_contents_through_our_own_stub_matches_rest(server):
    images, labels = read_image_csv(DATA / "fashion-mnist" / "fashion-mnist_test.csv", require_label=True)
    images, labels = images[:100], labels[:100]
    with grpc.insecure_channel(server.grpc_target) as channel:
        response = pb_grpc.GRPCInferenceServiceStub(channel).ModelInfer(
            typed_pixels(images), metadata=tuple(KEY.items())
        )
    outputs = {tensor.name: raw for tensor, raw in zip(response.outputs, response.raw_output_contents, strict=True)}
    predicted = np.frombuffer(outputs["label"], dtype="<i8").tolist()
    assert predicted == raw_labels(server, "/predict/fashion", images)
    assert (np.array(predicted) == labels).mean() >= 0.9


def test_house_prices_on_real_kaggle_rows_match_rest(client, rest, server):
    frame = pd.read_csv(DATA / "house-prices" / "test.csv").head(50)
    result = client.infer("house", house_inputs(frame, triton), headers=KEY)
    over_rest = rest.infer("house", house_inputs(frame), headers=dict(REST_KEY))
    np.testing.assert_array_equal(result.as_numpy("sale_price"), over_rest.as_numpy("sale_price"))
    assert result.as_numpy("warnings").tolist() == over_rest.as_numpy("warnings").tolist()
    rows = frame.drop(columns=["Id"]).astype(object).where(frame.notna(), None).to_dict("records")
    ours = httpx.post(f"{server.url}/predict/house-price", json=rows, headers=REST_KEY).json()
    np.testing.assert_allclose(result.as_numpy("sale_price"), [a["sale_price"] for a in ours], atol=0.01)


def poem_input(start: str) -> triton.InferInput:
    text = triton.InferInput("text_input", [1], "BYTES")
    text.set_data_from_numpy(np.array([start.encode()], dtype=object))
    return text


OPTIONS = {"line_num": 4, "line_length": 7, "seed": 7, "rhyme": "pingshui", "temperature": 0.8}


def test_a_poem_through_infer_and_through_the_stream_is_the_poem_of_our_endpoint(client, server):
    ours = httpx.post(f"{server.url}/generate/poem", json={"start": "春", **OPTIONS}, headers=REST_KEY).json()
    result = client.infer("poem", [poem_input("春")], parameters=OPTIONS, headers=KEY)
    assert result.as_numpy("text_output")[0].decode() == ours["poem"]

    answers: queue.Queue = queue.Queue()
    client.start_stream(callback=lambda result, error: answers.put((result, error)), headers=KEY)
    try:
        client.async_stream_infer("poem", [poem_input("春")], parameters=OPTIONS, request_id="spring")
        characters, final = [], None
        while final is None:
            result, error = answers.get(timeout=60)
            assert error is None
            response = result.get_response()
            assert response.id == "spring"
            if "triton_final_response" in response.parameters:
                final = response.parameters
            else:
                characters.append(result.as_numpy("text_output")[0].decode())
    finally:
        client.stop_stream()
    assert len(characters) == 4 * 8  # seven characters and a mark per line, one response each
    assert "".join(characters) == "".join(ours["lines"])
    assert final["poem"].string_param == ours["poem"] and final["seed"].int64_param == 7


def test_a_failed_request_on_the_stream_answers_in_band_and_the_stream_goes_on(client, digits):
    answers: queue.Queue = queue.Queue()
    client.start_stream(callback=lambda result, error: answers.put((result, error)), headers=KEY)
    try:
        client.async_stream_infer("poem", [poem_input("春")], parameters={"line_num": 3})
        client.async_stream_infer("digit", [pixels(digits[0][:3])])
        (_, error), (result, second_error) = answers.get(timeout=60), answers.get(timeout=60)
    finally:
        client.stop_stream()
    assert "line_num" in error.message()
    assert second_error is None and result.as_numpy("label").tolist() == digits[1][:3].tolist()


def array_input(name: str, array: np.ndarray, datatype: str) -> triton.InferInput:
    tensor = triton.InferInput(name, list(array.shape), datatype)
    tensor.set_data_from_numpy(array)
    return tensor


@pytest.mark.parametrize(
    ("make_input", "message"),
    [
        (lambda: array_input("pixels", np.zeros((1, 784), np.int64), "INT64"), "must be UINT8 or FP32"),
        (lambda: array_input("pixels", np.zeros((2, 783), np.uint8), "UINT8"), "must have shape [N, 784]"),
        (lambda: array_input("image", np.zeros((1, 784), np.uint8), "UINT8"), "takes one input, 'pixels'"),
        (lambda: array_input("pixels", np.full((1, 784), 300, np.float32), "FP32"), "element 0 is 300"),
        (lambda: triton.InferInput("pixels", [1, 784], "UINT8"), "input 'pixels' has no data"),
    ],
    ids=["datatype", "shape", "name", "range", "no data"],
)
def test_bad_tensors_are_invalid_argument_saying_what_is_wrong(client, make_input, message):
    error = refused(lambda: client.infer("digit", [make_input()], headers=KEY))
    assert error.status() == "StatusCode.INVALID_ARGUMENT"
    assert message in error.message()


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (typed_pixels(np.full((1, 784), 300)), "element 0 is 300, which does not fit UINT8"),
        (typed_pixels(np.zeros((1, 784)), field="fp32_contents"), "UINT8 data goes in contents.uint_contents"),
        (pb.ModelInferRequest(model_name="fashion", inputs=[pb.ModelInferRequest.InferInputTensor(
            name="pixels", datatype="UINT8", shape=[1, 784])], raw_input_contents=[b"\0" * 784, b"\0"]),
         "raw_input_contents has 2 entries for 1 inputs"),
        (pb.ModelInferRequest(model_name="fashion", inputs=[pb.ModelInferRequest.InferInputTensor(
            name="pixels", datatype="UINT8", shape=[1, 784])], raw_input_contents=[b"\0" * 700]),
         "is 784 bytes"),
    ],
    ids=["out of range", "wrong field", "raw count", "raw size"],
)  # fmt: skip
def test_malformed_messages_are_invalid_argument(server, request_, message):
    with grpc.insecure_channel(server.grpc_target) as channel, pytest.raises(grpc.RpcError) as raised:
        pb_grpc.GRPCInferenceServiceStub(channel).ModelInfer(request_, metadata=tuple(KEY.items()))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT and message in raised.value.details()
    assert ("dlserve-code", "invalid_tensor") in raised.value.trailing_metadata()


def test_inference_needs_the_api_key_in_the_metadata(client, server, digits):
    for headers in (None, {"x-api-key": "wrong"}):
        error = refused(lambda headers=headers: client.infer("digit", [pixels(digits[0][:1])], headers=headers))
        assert error.status() == "StatusCode.UNAUTHENTICATED" and "x-api-key metadata" in error.message()
    with grpc.insecure_channel(server.grpc_target) as channel, pytest.raises(grpc.RpcError) as raised:
        list(pb_grpc.GRPCInferenceServiceStub(channel).ModelStreamInfer(iter([typed_pixels(digits[0][:1])])))
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED  # a stream without the key ends at once
    error = refused(lambda: client.unload_model("digit", headers=KEY))  # the user key is not the admin key
    assert error.status() == "StatusCode.UNAUTHENTICATED" and "x-admin-key metadata" in error.message()


def test_a_client_over_its_poem_limit_is_resource_exhausted_with_retry_after(client, server):
    long_poem = {"line_num": 8, "line_length": 7, "rhyme": "pingshui", "tones": "strict"}
    answers: queue.Queue = queue.Queue()
    client.start_stream(callback=lambda result, error: answers.put((result, error)), headers=KEY)
    try:
        client.async_stream_infer("poem", [poem_input("山")], parameters=long_poem)
        assert answers.get(timeout=30)[1] is None  # the first character: the poem holds its slot now
        with grpc.insecure_channel(server.grpc_target) as channel, pytest.raises(grpc.RpcError) as raised:
            text = pb.ModelInferRequest.InferInputTensor(name="text_input", datatype="BYTES", shape=[1])
            pb_grpc.GRPCInferenceServiceStub(channel).ModelInfer(
                pb.ModelInferRequest(model_name="poem", inputs=[text], raw_input_contents=[b"\0\0\0\0"]),
                metadata=tuple(KEY.items()),
            )
    finally:
        client.stop_stream(cancel_requests=True)
    assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and "PER_CLIENT_POEMS" in raised.value.details()
    trailers = dict(raised.value.trailing_metadata())
    assert trailers["dlserve-code"] == "too_many_requests" and trailers["retry-after"] == "1"


def test_a_reload_through_grpc_while_a_grpc_load_runs_loses_no_request(client, server, digits):
    images, labels = digits[0][:32], digits[1][:32].tolist()
    outcomes: list[object] = []
    stop = threading.Event()

    def load() -> None:
        worker = triton.InferenceServerClient(server.grpc_target)
        while not stop.is_set():
            try:
                outcomes.append(worker.infer("digit", [pixels(images)], headers=KEY).as_numpy("label").tolist())
            except InferenceServerException as exc:
                outcomes.append(exc)

    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        before = client.get_model_repository_index(as_json=True)
        client.load_model("digit", headers=ADMIN)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    assert len(outcomes) > 20 and all(outcome == labels for outcome in outcomes), outcomes[:3]
    assert client.get_model_repository_index(as_json=True) == before  # the same version, READY again
    error = refused(lambda: client.load_model("cats", headers=ADMIN))
    assert error.status() == "StatusCode.NOT_FOUND"


def test_grpc_calls_are_counted_in_the_metrics(client, server):
    client.is_server_live()
    metrics = httpx.get(f"{server.url}/metrics").text
    assert re.search(r'dlserve_grpc_requests_total\{code="OK",method="ServerLive"\} [1-9]', metrics)
    assert re.search(r'dlserve_grpc_requests_total\{code="UNAUTHENTICATED",method="ModelInfer"\} [1-9]', metrics)
    assert 'dlserve_grpc_request_duration_seconds_count{method="ModelInfer"}' in metrics


def mixed_batches(metrics: str) -> float:
    """Digit batches of more than 2 items (the histogram's count above its le="2.0" bucket)."""
    total = float(re.search(r'dlserve_batch_size_count\{model="digit"\} ([\d.]+)', metrics)[1])
    small = float(re.search(r'dlserve_batch_size_bucket\{le="2.0",model="digit"\} ([\d.]+)', metrics)[1])
    return total - small


def test_grpc_and_rest_digits_share_micro_batches(client, server, digits):
    # Two clients per door, one image per call: a door alone never has more than 2 images in flight, so a
    # batch of 3 or 4 holds digits from both doors.
    stop, before = threading.Event(), mixed_batches(httpx.get(f"{server.url}/metrics").text)
    image = digits[0][:1]

    def over_grpc() -> None:
        worker = triton.InferenceServerClient(server.grpc_target)
        while not stop.is_set():
            worker.infer("digit", [pixels(image)], headers=KEY)

    def over_rest() -> None:
        while not stop.is_set():
            raw_labels(server, "/predict/digit", image)

    threads = [threading.Thread(target=target) for target in (over_grpc, over_grpc, over_rest, over_rest)]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 20
        while mixed_batches(httpx.get(f"{server.url}/metrics").text) == before and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert mixed_batches(httpx.get(f"{server.url}/metrics").text) > before
