"""The error policy (unexpected errors, unknown routes, bodies cut off at the limit) and the OpenAPI documentation."""

import asyncio
import logging

import pytest

from app.core.config import Settings
from app.main import create_app
from tests.api.conftest import MODELS, assert_error, make_client
from tests.api.helpers import read_events, upload
from training.image_examples import DIGIT_PIXELS

INTERNAL_ERROR = {"detail": "internal server error", "code": "internal_error"}
TAGS = {
    ("/predict/digit", "post"): ["digit"],
    ("/predict/digit/batch", "post"): ["digit"],
    ("/predict/fashion", "post"): ["fashion"],
    ("/predict/fashion/batch", "post"): ["fashion"],
    ("/predict/house-price", "post"): ["house-price"],
    ("/predict/house-price/batch", "post"): ["house-price"],
    ("/generate/poem", "post"): ["poem"],
    ("/generate/poem/stream", "post"): ["poem"],
    ("/predict/{name}", "post"): ["any model"],
    ("/predict/{name}/batch", "post"): ["any model"],
    ("/generate/{name}", "post"): ["any model"],
    ("/generate/{name}/stream", "post"): ["any model"],
    ("/health/live", "get"): ["health"],
    ("/health/ready", "get"): ["health"],
    ("/models", "get"): ["models"],
    ("/models/{name}", "get"): ["models"],
    ("/metrics", "get"): ["operations"],
} | {
    (path, method): ["v2 (Open Inference Protocol)"]
    for path, method in [
        ("/v2", "get"),
        ("/v2/health/live", "get"),
        ("/v2/health/ready", "get"),
        ("/v2/models/{name}", "get"),
        ("/v2/models/{name}/versions/{version}", "get"),
        ("/v2/models/{name}/ready", "get"),
        ("/v2/models/{name}/versions/{version}/ready", "get"),
        ("/v2/models/{name}/infer", "post"),
        ("/v2/models/{name}/versions/{version}/infer", "post"),
        ("/v2/models/{name}/generate", "post"),
        ("/v2/models/{name}/generate_stream", "post"),
        ("/v2/repository/index", "post"),
        ("/v2/repository/models/{name}/load", "post"),
        ("/v2/repository/models/{name}/unload", "post"),
    ]
}
ONE_ROW_CSV = (",".join(f"pixel{i}" for i in range(784)) + "\n" + ",".join(map(str, DIGIT_PIXELS)) + "\n").encode()
UPLOAD_PATHS = ["/predict/digit", "/predict/digit/batch", "/predict/fashion", "/predict/fashion/batch",
                "/predict/house-price/batch"]  # fmt: skip


@pytest.fixture(scope="module")
def fresh_client():
    """A client of its own, so that breaking its models on purpose cannot touch other tests."""
    with make_client() as test_client:
        yield test_client


@pytest.fixture(scope="module")
def openapi(client) -> dict:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return response.json()


def boom(*args, **kwargs):
    raise RuntimeError("secret internals: tensor shape mismatch")


@pytest.mark.parametrize("path", ["/predict/digit", "/predict/digit/batch"])
def test_a_model_that_raises_is_a_503_naming_it_and_its_traceback_is_logged(fresh_client, monkeypatch, caplog, path):
    monkeypatch.setattr(fresh_client.app.state.service.serving["digit"].batcher, "_run_batch", boom)
    caplog.set_level(logging.ERROR, logger="dlserve")
    if path.endswith("/batch"):
        response = upload(fresh_client, path, ONE_ROW_CSV, "test.csv")
    else:
        response = fresh_client.post(path, json={"pixels": DIGIT_PIXELS})
    body = assert_error(response, 503, "inference_failed", "the digit model failed to run on this input (RuntimeError)")
    assert "secret internals" not in response.text and body["model"] == "digit"
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.name == "dlserve.batcher" and record.getMessage().startswith("model digit failed on a batch of")
    assert record.exc_info[0] is RuntimeError
    assert fresh_client.post("/predict/fashion", json={"pixels": DIGIT_PIXELS}).status_code == 200  # others serve


def test_a_poem_model_that_raises_is_a_503_and_the_scheduler_serves_on(fresh_client, monkeypatch, caplog):
    generator = fresh_client.app.state.service.serving["poem"].predictor
    monkeypatch.setattr(generator, "step", boom)  # the model's forward pass, as the scheduler calls it
    caplog.set_level(logging.ERROR, logger="dlserve")
    response = fresh_client.post("/generate/poem", json={"seed": 1})
    assert_error(response, 503, "inference_failed", "the poem model failed to run on this input (RuntimeError)")
    assert "secret internals" not in response.text
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.getMessage() == "model poem failed on a pass of 1 poems" and record.exc_info[0] is RuntimeError
    monkeypatch.undo()
    assert fresh_client.post("/generate/poem", json={"seed": 1}).status_code == 200


def test_any_other_unexpected_error_is_a_generic_500_and_its_traceback_is_logged(fresh_client, monkeypatch, caplog):
    monkeypatch.setattr(fresh_client.app.state.service.serving["digit"].predictor, "describe", boom)
    caplog.set_level(logging.ERROR, logger="dlserve")
    response = fresh_client.post("/predict/digit", json={"pixels": DIGIT_PIXELS})
    assert response.status_code == 500
    assert response.json() == INTERNAL_ERROR
    [record] = [r for r in caplog.records if r.name == "dlserve" and r.levelno == logging.ERROR]
    assert record.getMessage() == "unhandled error on POST /predict/digit"
    assert record.exc_info[0] is RuntimeError


def test_an_error_during_a_poem_stream_is_reported_in_band_and_logged(fresh_client, monkeypatch, caplog):
    def two_characters_then_boom(spec):
        yield "春"
        yield "风"
        boom()

    monkeypatch.setattr(fresh_client.app.state.service.serving["poem"].predictor, "decoding", two_characters_then_boom)
    caplog.set_level(logging.ERROR, logger="dlserve")
    events = read_events(fresh_client.post("/generate/poem/stream", json={"seed": 1}))
    assert events == [("char", {"index": 0, "char": "春"}), ("char", {"index": 1, "char": "风"}),
                      ("error", INTERNAL_ERROR)]  # fmt: skip
    [record] = [r for r in caplog.records if r.name == "dlserve.poems" and r.levelno == logging.ERROR]
    assert record.getMessage() == "a poem's decoding failed"
    assert record.exc_info[0] is RuntimeError


def test_unknown_path_is_404_and_wrong_method_405_in_the_error_shape(client):
    response = client.get("/predict-nothing/cat")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found", "code": "not_found"}
    for path in ("/predict/digit", "/predict/cat"):  # /predict/{name} answers POST for any name (404 if unknown)
        response = client.get(path)
        assert response.status_code == 405
        assert response.json() == {"detail": "Method Not Allowed", "code": "method_not_allowed"}
        assert response.headers["allow"] == "POST"


def test_endless_chunked_body_is_cut_off_as_soon_as_it_passes_the_limit():
    """Straight through the ASGI app: the middleware must stop reading, not buffer the whole stream."""
    app = create_app(Settings(model_dir=MODELS, device="cpu", max_body_bytes=4096))
    chunks_read = 0

    async def endless_body():
        nonlocal chunks_read
        chunks_read += 1
        return {"type": "http.request", "body": b"x" * 1000, "more_body": True}

    sent = []

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": "/generate/poem", "raw_path": b"/generate/poem", "query_string": b"",
             "root_path": "", "headers": [(b"content-type", b"application/json")],
             "server": ("testserver", 80), "client": ("testclient", 50000)}  # fmt: skip
    asyncio.run(app(scope, endless_body, send))
    assert chunks_read == 5  # 5,000 bytes is the first count over 4,096
    assert sent[0]["status"] == 413
    assert b"request body is larger than the limit of 4,096 bytes (MAX_BODY_BYTES)" in sent[1]["body"]


def test_docs_page_is_served(client):
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "swagger-ui" in response.text


def test_every_endpoint_is_documented_under_its_tag(openapi):
    operations = {(path, method): op for path, ops in openapi["paths"].items() for method, op in ops.items()}
    assert {key: op["tags"] for key, op in operations.items()} == TAGS
    undocumented = [key for key, op in operations.items() if not op.get("description")]
    assert undocumented == []


@pytest.mark.parametrize("path", UPLOAD_PATHS)
def test_upload_endpoints_offer_a_binary_file_field(openapi, path):
    form = openapi["paths"][path]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert form["required"] == ["file"]
    assert {k: form["properties"]["file"][k] for k in ("type", "format")} == {"type": "string", "format": "binary"}


def json_examples(openapi: dict) -> list[tuple[str, str, object]]:
    """(path, example name, value) for every JSON request example Swagger UI offers in "Try it out"."""
    found = []
    for path, operations in openapi["paths"].items():
        for operation in operations.values():
            content = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if content is None:
                continue
            if "examples" in content:
                found += [(path, name, example["value"]) for name, example in content["examples"].items()]
                continue
            schema = content["schema"]
            if "$ref" in schema:  # "#/components/schemas/PoemRequest"
                schema = openapi["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
            found += [(path, f"schema example {i}", value) for i, value in enumerate(schema.get("examples", []))]
    return found


def test_every_json_example_in_the_docs_works(client, openapi):
    examples = json_examples(openapi)
    assert sorted((path, name) for path, name, _ in examples) == [
        ("/generate/poem", "schema example 0"),
        ("/generate/poem/stream", "schema example 0"),
        ("/generate/{name}", "schema example 0"), ("/generate/{name}/stream", "schema example 0"),
        ("/predict/digit", "image"), ("/predict/digit", "list"), ("/predict/digit", "pixels"),
        ("/predict/fashion", "image"), ("/predict/fashion", "list"), ("/predict/fashion", "pixels"),
        ("/predict/house-price", "list"), ("/predict/house-price", "one"), ("/predict/house-price", "sparse"),
        ("/v2/models/{name}/generate", "spring"), ("/v2/models/{name}/generate_stream", "spring"),
    ]  # fmt: skip
    failures = []
    for path, name, value in examples:
        response = client.post(path.replace("{name}", "poem"), json=value)  # the any-model routes: the poem's
        if response.status_code != 200:
            failures.append((path, name, response.status_code, response.text[:200]))
    assert failures == []


@pytest.mark.parametrize("path", ["/predict/digit", "/predict/fashion", "/predict/house-price", "/generate/poem"])
def test_json_nested_10000_levels_deep_is_a_4xx_not_a_crash(client, path):
    response = client.post(path, content="[" * 10_000 + "]" * 10_000, headers={"content-type": "application/json"})
    assert 400 <= response.status_code < 500, response.text
    assert set(response.json()) >= {"detail", "code"}
