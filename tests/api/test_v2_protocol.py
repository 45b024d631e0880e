"""The v2 protocol's edges through the ASGI app: raw bodies no client library would send, keys, and live reload."""

from __future__ import annotations

import hashlib
import json
import shutil
import struct

import numpy as np
import pytest

from tests.api.conftest import MODELS, make_client
from training.image_examples import DIGIT_LABEL, DIGIT_PIXELS

INFER = "/v2/models/digit/infer"


def pixels_request(data, datatype="UINT8", shape=(1, 784), **extra) -> dict:
    return {"inputs": [{"name": "pixels", "datatype": datatype, "shape": list(shape), "data": data}], **extra}


def binary_body(header: dict, *tensors: bytes) -> tuple[bytes, dict[str, str]]:
    head = json.dumps(header).encode()
    return head + b"".join(tensors), {"Inference-Header-Content-Length": str(len(head))}


def assert_v2_error(response, status: int, fragment: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    assert fragment in body["error"], body["error"]
    return body["error"]


def test_json_inference_answers_the_example_seven(client):
    answer = client.post(INFER, json=pixels_request(DIGIT_PIXELS, id="req-1"))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["id"] == "req-1" and body["model_name"] == "digit"
    outputs = {o["name"]: o for o in body["outputs"]}
    assert outputs["label"] == {"name": "label", "datatype": "INT64", "shape": [1], "data": [DIGIT_LABEL]}
    assert outputs["probabilities"]["shape"] == [1, 10] and len(outputs["probabilities"]["data"]) == 10


def test_nested_json_data_is_accepted_in_row_major_order(client):
    nested = [np.array(DIGIT_PIXELS).reshape(28, 28).tolist()]
    answer = client.post(INFER, json=pixels_request(nested, shape=(1, 1, 28, 28)))
    assert {o["name"]: o for o in answer.json()["outputs"]}["label"]["data"] == [DIGIT_LABEL]


def test_a_binary_request_and_a_binary_output(client):
    header = {
        "inputs": [{"name": "pixels", "datatype": "UINT8", "shape": [1, 784], "parameters": {"binary_data_size": 784}}],
        "outputs": [{"name": "label", "parameters": {"binary_data": True}}],
    }
    body, headers = binary_body(header, bytes(DIGIT_PIXELS))
    answer = client.post(INFER, content=body, headers=headers)
    assert answer.status_code == 200, answer.text
    length = int(answer.headers["Inference-Header-Content-Length"])
    head = json.loads(answer.content[:length])
    assert head["outputs"] == [
        {"name": "label", "datatype": "INT64", "shape": [1], "parameters": {"binary_data_size": 8}}
    ]
    assert struct.unpack("<q", answer.content[length:]) == (DIGIT_LABEL,)


@pytest.mark.parametrize(
    ("body", "headers", "fragment"),
    [
        (b"{not json", {}, "the request is not valid JSON"),
        (b"[]", {}, "the request must be a JSON object"),
        (b"{}", {}, "a non-empty list of 'inputs'"),
        (b'{"inputs": [{"name": "pixels"}]}', {}, "datatype None is not one of"),
        (
            b'{"inputs": [{"name": "pixels", "datatype": "UINT8", "shape": [1, -784], "data": []}]}',
            {},
            "has a negative dimension",
        ),
        (
            b'{"inputs": [{"name": "pixels", "datatype": "UINT8", "shape": [1, 784]}]}',
            {},
            "neither 'data' nor a binary_data_size",
        ),
        (
            b'{"inputs": [{"name": "pixels", "datatype": "UINT8", "shape": [1, 784], "data": [1, 2]}]}',
            {},
            "holds 784 elements but data has 2",
        ),
        (
            b'{"inputs": [{"name": "pixels", "datatype": "UINT8", "shape": [1, 784], "data": ['
            + b'"a", ' * 783
            + b'"a"]}]}',
            {},
            "element 0 is 'a', not a UINT8 value",
        ),
        (
            b'{"inputs": [{"name": "pixels", "datatype": "UINT8", "shape": [1, 784], "data": ['
            + b"300, " * 783
            + b"300]}]}",
            {},
            "a value does not fit UINT8",
        ),
        (b"{}", {"Inference-Header-Content-Length": "99"}, "but the body has 2 bytes"),
        (b"{}", {"Inference-Header-Content-Length": "two"}, "must be a whole number of bytes"),
    ],
    ids=[
        "json",
        "array",
        "no-inputs",
        "no-datatype",
        "negative",
        "no-data",
        "count",
        "strings",
        "overflow",
        "header-too-long",
        "header-text",
    ],
)
def test_malformed_requests_are_400s_in_the_protocols_shape(client, body, headers, fragment):
    assert_v2_error(client.post(INFER, content=body, headers=headers), 400, fragment)


def test_binary_sizes_that_do_not_add_up_are_400s(client):
    spec = {"name": "pixels", "datatype": "UINT8", "shape": [1, 784], "parameters": {"binary_data_size": 784}}
    body, headers = binary_body({"inputs": [spec]}, bytes(700))
    assert_v2_error(client.post(INFER, content=body, headers=headers), 400, "runs past the 700 bytes after the JSON")
    body, headers = binary_body({"inputs": [spec]}, bytes(790))
    assert_v2_error(client.post(INFER, content=body, headers=headers), 400, "6 bytes after the JSON belong to no input")
    spec["parameters"]["binary_data_size"] = 780
    body, headers = binary_body({"inputs": [spec]}, bytes(780))
    assert_v2_error(client.post(INFER, content=body, headers=headers), 400, "is 784 bytes, binary_data_size says 780")


def test_truncated_bytes_elements_are_400s(client):
    spec = {"name": "text_input", "datatype": "BYTES", "shape": [1], "parameters": {"binary_data_size": 6}}
    body, headers = binary_body({"inputs": [spec]}, struct.pack("<I", 9) + b"ab")
    answer = client.post("/v2/models/poem/infer", content=body, headers=headers)
    assert_v2_error(answer, 400, "BYTES element 0 says 9 bytes, past the end of its data")


def test_house_tensors_are_validated_like_house_requests(client):
    area = {"name": "GrLivArea", "datatype": "FP64", "shape": [2], "data": [1710.0, -5.0]}
    answer = client.post("/v2/models/house/infer", json={"inputs": [area]})
    assert_v2_error(answer, 400, "row 1, GrLivArea: Input should be greater than or equal to 0")
    typo = {"name": "GrLivAre", "datatype": "FP64", "shape": [1], "data": [1710.0]}
    assert_v2_error(client.post("/v2/models/house/infer", json={"inputs": [typo]}), 400, "no input named 'GrLivAre'")
    text = {"name": "Neighborhood", "datatype": "FP64", "shape": [1], "data": [3.0]}
    assert_v2_error(client.post("/v2/models/house/infer", json={"inputs": [text]}), 400, "is a category: send BYTES")
    ragged = [area | {"data": [1.0, 2.0]}, {"name": "LotArea", "datatype": "FP64", "shape": [3], "data": [1.0] * 3}]
    assert_v2_error(client.post("/v2/models/house/infer", json={"inputs": ragged}), 400, "every input needs the same N")


def test_poem_options_are_checked_as_poem_requests_are(client):
    request = {"text_input": "春夏秋冬", "parameters": {"line_length": 6}}
    assert_v2_error(client.post("/v2/models/poem/generate", json=request), 400, "line_length")
    request = {"text_input": "春", "parameters": {"start": "秋"}}
    assert_v2_error(client.post("/v2/models/poem/generate", json=request), 400, "as text_input, not as the parameter")
    request = {"text_input": "", "parameters": {"acrostic": "春夏秋冬", "line_length": 5, "tones": "strict"}}
    assert_v2_error(client.post("/v2/models/poem/generate", json=request), 400, "no standard strict tone pattern")


def test_too_many_images_is_a_413(client):
    request = pixels_request([0] * 784 * 300, shape=(300, 784))
    assert_v2_error(client.post(INFER, json=request), 413, "300 images in one request; the limit is 256")


def test_an_unknown_version_is_a_404(client):
    answer = client.post("/v2/models/digit/versions/0.0.1/infer", json=pixels_request(DIGIT_PIXELS))
    assert_v2_error(answer, 404, "model 'digit' has no version '0.0.1'; it serves")


def test_the_key_guards_inference_but_not_health_or_metadata():
    with make_client(api_key="v2-key") as keyed:
        assert keyed.get("/v2/health/ready").status_code == 200
        assert keyed.get("/v2/models/digit").status_code == 200
        assert keyed.post("/v2/repository/index").status_code == 200  # what /models says too
        assert_v2_error(keyed.post(INFER, json=pixels_request(DIGIT_PIXELS)), 401, "missing or wrong API key")
        assert keyed.post(INFER, json=pixels_request(DIGIT_PIXELS), headers={"X-API-Key": "v2-key"}).status_code == 200


ADMIN = {"X-Admin-Key": "reload-admin"}


def reloading_client(model_dir):
    """A client of the app with model control on (reloads are refused by default)."""
    return make_client(model_dir=model_dir, model_control="explicit", admin_api_key=ADMIN["X-Admin-Key"])


@pytest.fixture
def own_models(tmp_path):
    """A copy of the committed models that a test may change and reload."""
    folder = tmp_path / "models"
    shutil.copytree(MODELS, folder)
    return folder


def set_version(folder, name: str, version: str) -> None:
    path = folder / name / "meta.json"
    meta = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps(meta | {"version": version}), encoding="utf-8")


def test_load_swaps_in_the_new_version_everywhere_at_once(own_models):
    with reloading_client(own_models) as app:
        before = app.get("/models/digit").json()["version"]
        set_version(own_models, "digit", "2.0.0+reloaded")
        answer = app.post("/v2/repository/models/digit/load", json={}, headers=ADMIN)
        assert answer.status_code == 200, answer.text
        assert answer.json()["version"] == "2.0.0+reloaded" and before != "2.0.0+reloaded"
        assert app.get("/models/digit").json()["version"] == "2.0.0+reloaded"
        assert app.get("/v2/models/digit").json()["versions"] == ["2.0.0+reloaded"]
        assert app.post("/predict/digit", json={"pixels": DIGIT_PIXELS}).json()["model_version"] == "2.0.0+reloaded"
        assert app.post(INFER, json=pixels_request(DIGIT_PIXELS)).json()["model_version"] == "2.0.0+reloaded"
        metrics = app.get("/metrics").text
        assert 'dlserve_model_version_info{model="digit",version="2.0.0+reloaded"} 1.0' in metrics
        assert f'dlserve_model_version_info{{model="digit",version="{before}"}} 0.0' in metrics


def test_a_corrupt_checkpoint_is_refused_and_the_old_version_keeps_serving(own_models):
    with reloading_client(own_models) as app:
        before = app.get("/models/digit").json()["version"]
        (own_models / "digit" / "model.pt").write_bytes(b"not a checkpoint")
        error = assert_v2_error(
            app.post("/v2/repository/models/digit/load", headers=ADMIN), 400, "failed to load 'digit': model.pt"
        )
        assert f"version '{before}' keeps serving" in error
        answer = app.post("/predict/digit", json={"pixels": DIGIT_PIXELS}).json()
        assert answer["label"] == DIGIT_LABEL and answer["model_version"] == before
        assert app.get("/health/ready").status_code == 200


def test_a_corrupt_checkpoint_that_passes_its_checksum_is_refused_when_loaded(own_models):
    with reloading_client(own_models) as app:
        before = app.get("/models/fashion").json()["version"]
        broken = b"PK\x03\x04 not a TorchScript archive"
        meta = json.loads((own_models / "fashion" / "meta.json").read_text(encoding="utf-8"))
        meta |= {"version": "9.9.9", "sha256": hashlib.sha256(broken).hexdigest()}
        (own_models / "fashion" / "model.pt").write_bytes(broken)
        (own_models / "fashion" / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
        error = assert_v2_error(
            app.post("/v2/repository/models/fashion/load", headers=ADMIN), 400, "could not be loaded by TorchScript"
        )
        assert f"version '{before}' keeps serving" in error
        assert app.get("/v2/models/fashion").json()["versions"] == [before]


def test_a_load_with_a_configuration_is_refused():
    with reloading_client(MODELS) as client:
        answer = client.post("/v2/repository/models/digit/load", json={"parameters": {"config": "{}"}}, headers=ADMIN)
        assert_v2_error(answer, 400, "loads models only from its MODEL_DIR")
        assert_v2_error(client.post("/v2/repository/models/cats/load", headers=ADMIN), 404, "unknown model 'cats'")


def test_the_poem_model_reloads_with_its_scheduler_and_keeps_writing(own_models):
    with reloading_client(own_models) as app:
        before = app.post("/generate/poem", json={"seed": 8}).json()["poem"]
        set_version(own_models, "poem", "2.0.0+reloaded")
        assert app.post("/v2/repository/models/poem/load", headers=ADMIN).status_code == 200
        after = app.post("/generate/poem", json={"seed": 8}).json()
        assert after["poem"] == before and after["model_version"] == "2.0.0+reloaded"  # the new scheduler writes it
        assert app.post("/v2/repository/models/poem/unload", headers=ADMIN).status_code == 200
        assert app.post("/generate/poem", json={"seed": 8}).status_code == 503
        assert app.post("/v2/repository/models/poem/load", headers=ADMIN).status_code == 200
        assert app.post("/generate/poem/stream", json={"seed": 8}).text.count("event: char") == 32
