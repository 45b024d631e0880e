"""Safe with no settings at all: model control off, two separate keys, per-client limits, browser headers."""

from __future__ import annotations

import logging
from contextlib import contextmanager

import pytest
from pydantic import ValidationError

from app.api.security import key_identity
from app.core.config import Settings
from tests.api.conftest import MODELS, assert_error, make_client
from tests.api.test_v2_protocol import assert_v2_error
from training.image_examples import DIGIT_LABEL, DIGIT_PIXELS

DIGIT = {"pixels": DIGIT_PIXELS}
LOAD, UNLOAD = "/v2/repository/models/digit/load", "/v2/repository/models/digit/unload"
DISABLED = (
    "model control is disabled (MODEL_CONTROL=none): models cannot be loaded or unloaded at run time; start the "
    "service with MODEL_CONTROL=explicit and ADMIN_API_KEY set, then send that key in the X-Admin-Key header"
)
ADMIN = {"X-Admin-Key": "admin-secret"}


def test_by_default_load_and_unload_are_refused_and_the_model_keeps_serving(client):
    for path in (LOAD, UNLOAD, "/v2/repository/models/poem/unload"):
        answer = client.post(path, headers=ADMIN)
        assert answer.status_code == 403 and answer.json() == {"error": DISABLED}, answer.text
    assert client.post("/predict/digit", json=DIGIT).json()["label"] == DIGIT_LABEL
    index = client.post("/v2/repository/index").json()
    assert [entry["state"] for entry in index] == ["READY"] * 4


def test_explicit_model_control_without_an_admin_key_does_not_start():
    with pytest.raises(ValidationError, match="MODEL_CONTROL=explicit needs ADMIN_API_KEY"):
        Settings(model_control="explicit")
    with pytest.raises(ValidationError, match="ADMIN_API_KEY is set but empty"):
        Settings(model_control="explicit", admin_api_key="")


def test_an_empty_environment_variable_is_unset(monkeypatch):
    # What compose passes for a secret nobody exported: `ADMIN_API_KEY: ${ADMIN_API_KEY:-}`.
    monkeypatch.setenv("ADMIN_API_KEY", "")
    monkeypatch.setenv("API_KEY", "")
    settings = Settings()
    assert settings.admin_api_key is None and settings.api_key is None


def test_trusted_proxies_must_be_addresses():
    assert Settings(trusted_proxies=["10.0.0.5", "10.1.0.0/16", "::1"]).trusted_proxies[1] == "10.1.0.0/16"
    with pytest.raises(ValidationError, match=r"'proxy\.local' is not an IP address or network"):
        Settings(trusted_proxies=["proxy.local"])


@pytest.fixture(scope="module")
def keyed():
    """API key and admin key both set, to different values."""
    with make_client(api_key="user-key", model_control="explicit", admin_api_key="admin-secret") as test_client:
        yield test_client


def test_the_admin_key_opens_the_repository_and_nothing_else(keyed):
    user = {"X-API-Key": "user-key"}
    assert_v2_error(keyed.post(LOAD), 401, "missing or wrong admin key (send ADMIN_API_KEY in the X-Admin-Key header)")
    assert_v2_error(keyed.post(LOAD, headers=user), 401, "missing or wrong admin key")
    assert_v2_error(keyed.post(LOAD, headers={"X-Admin-Key": "user-key"}), 401, "missing or wrong admin key")
    assert_error(keyed.post("/predict/digit", json=DIGIT, headers=ADMIN), 401, "unauthorized", "missing or wrong API")
    assert_error(keyed.post("/predict/digit", json=DIGIT, headers={"X-API-Key": "admin-secret"}), 401, "unauthorized")
    loaded = keyed.post(LOAD, headers=ADMIN)
    assert loaded.status_code == 200 and loaded.json()["state"] == "READY", loaded.text
    assert keyed.post("/predict/digit", json=DIGIT, headers=user).json()["label"] == DIGIT_LABEL


def test_one_key_for_both_on_purpose_works_and_is_logged(caplog):
    same = make_client(api_key="same", model_control="explicit", admin_api_key="same")
    with caplog.at_level(logging.WARNING, logger="dlserve"), same as test_client:
        assert test_client.post("/predict/digit", json=DIGIT, headers={"X-API-Key": "same"}).status_code == 200
        assert test_client.post(UNLOAD, headers={"X-Admin-Key": "same"}).status_code == 200
        assert test_client.post(LOAD, headers={"X-Admin-Key": "same"}).status_code == 200
    assert "ADMIN_API_KEY is the same as API_KEY" in caplog.text


@pytest.fixture(scope="module")
def limited():
    """One slot of each kind per client; API keys so two clients can be told apart."""
    options = {f"per_client_{kind}": 1 for kind in ("explain", "csv", "poems", "reloads")}
    with make_client(api_key="alice,bob", refusal_delay_ms=0, **options) as test_client:
        yield test_client


@contextmanager
def busy(test_client, kind: str, client: str):
    """Every slot of `kind` the client has, taken as its requests in flight would take them."""
    limits = test_client.app.state.client_limits
    limits._in_flight[(kind, client)] += limits.limits[kind]
    try:
        yield
    finally:
        limits._in_flight[(kind, client)] -= limits.limits[kind]


@pytest.mark.parametrize(
    ("kind", "method", "path", "body"),
    [
        ("explain", "post", "/predict/digit?explain=true", DIGIT),
        ("poem", "post", "/generate/poem", {"seed": 1}),
        ("poem", "post", "/generate/poem/stream", {"seed": 1}),
        ("poem", "post", "/v2/models/poem/generate", {"text_input": "春"}),
        ("poem", "post", "/v2/models/poem/generate_stream", {"text_input": "春"}),
    ],
)
def test_a_client_past_its_limit_gets_429_and_another_client_does_not(limited, kind, method, path, body):
    alice, bob = {"X-API-Key": "alice"}, {"X-API-Key": "bob"}
    with busy(limited, kind, key_identity("alice")):
        refused = limited.request(method, path, json=body, headers=alice)
        assert refused.status_code == 429, refused.text
        assert refused.headers["retry-after"] == "1"
        assert limited.request(method, path, json=body, headers=bob).status_code == 200
    assert limited.request(method, path, json=body, headers=alice).status_code == 200  # the slot is back


def test_several_api_keys_each_open_prediction(limited):
    for key in ("alice", "bob"):
        assert limited.post("/predict/digit", json=DIGIT, headers={"X-API-Key": key}).status_code == 200
    for wrong in ("alic", "alice,bob", ""):
        assert limited.post("/predict/digit", json=DIGIT, headers={"X-API-Key": wrong}).status_code == 401


def test_plain_predictions_and_v2_digits_never_count_against_a_limit(limited):
    alice = {"X-API-Key": "alice"}
    with busy(limited, "explain", key_identity("alice")), busy(limited, "poem", key_identity("alice")):
        assert limited.post("/predict/digit", json=DIGIT, headers=alice).status_code == 200
        infer = {"inputs": [{"name": "pixels", "datatype": "UINT8", "shape": [1, 784], "data": DIGIT_PIXELS}]}
        assert limited.post("/v2/models/digit/infer", json=infer, headers=alice).status_code == 200
        text = {"inputs": [{"name": "text_input", "datatype": "BYTES", "shape": [1], "data": ["春"]}]}
        assert_v2_error(limited.post("/v2/models/poem/infer", json=text, headers=alice), 429, "1 poems in progress")


def test_csv_uploads_are_limited_per_client(limited):
    csv = ",".join(f"pixel{i}" for i in range(784)) + "\n" + ",".join("0" * 784) + "\n"
    with busy(limited, "csv", key_identity("alice")):
        files = {"file": ("test.csv", csv.encode(), "text/csv")}
        answer = limited.post("/predict/digit/batch", files=files, headers={"X-API-Key": "alice"})
        assert_error(answer, 429, "too_many_requests", "1 CSV uploads in progress (PER_CLIENT_CSV)")
        assert limited.post("/predict/digit/batch", files=files, headers={"X-API-Key": "bob"}).status_code == 200


def test_a_stream_holds_its_slot_until_its_last_event(limited):
    limits, alice = limited.app.state.client_limits, key_identity("alice")
    with limited.stream("POST", "/generate/poem/stream", json={"seed": 3}, headers={"X-API-Key": "alice"}) as stream:
        lines = stream.iter_lines()
        assert next(lines).startswith("event: char")
        assert limits.in_flight("poem", alice) == 1
        assert list(lines)[-2].startswith("data: {")  # read to the end: the done event
    assert limits.in_flight("poem", alice) == 0


def test_the_address_is_the_client_and_x_forwarded_for_counts_only_from_a_trusted_proxy():
    from fastapi.testclient import TestClient

    from app.main import create_app

    settings = {"model_dir": MODELS, "device": "cpu", "per_client_poems": 1}
    forwarded = {"X-Forwarded-For": "203.0.113.9"}
    for trusted, expected in (([], "address:10.0.0.1"), (["10.0.0.0/8"], "address:203.0.113.9")):
        app = create_app(Settings(**settings, trusted_proxies=trusted))
        with TestClient(app, client=("10.0.0.1", 5000)) as proxied:
            with busy(proxied, "poem", expected):
                assert proxied.post("/generate/poem", json={"seed": 1}, headers=forwarded).status_code == 429
            assert proxied.post("/generate/poem", json={"seed": 1}, headers=forwarded).status_code == 200


@pytest.mark.parametrize("path", ["/", "/docs", "/redoc"])
def test_pages_refuse_to_be_framed_and_keep_their_csp(client, path):
    answer = client.get(path)
    policy = answer.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "default-src 'self'" in policy
    assert answer.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", "/health/live"), ("post", "/predict/digit"), ("get", "/static/playground/main.js"),
     ("get", "/nowhere"), ("post", "/v2/models/digit/infer")],
)  # fmt: skip
def test_every_answer_says_nosniff_and_no_referrer(client, method, path):
    answer = client.request(method, path, json=DIGIT if method == "post" else None)
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "no-referrer"
