"""The service as deployed: a real uvicorn process, its metrics, logs, API key and graceful shutdown."""

import re
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from app.schemas.image_examples import DIGIT_PIXELS
from tests.deploy.live_server import LiveServer

API_KEY = "test-key-123"
DIGIT = {"pixels": DIGIT_PIXELS}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = LiveServer(tmp_path_factory.mktemp("live") / "server.log", API_KEY=API_KEY, LOG_FORMAT="json")
    try:
        live.wait_ready()
        yield live
    finally:
        live.close()


def post_digit(server, **headers):
    return httpx.post(f"{server.url}/predict/digit", json=DIGIT, headers=headers, timeout=30)


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one Prometheus sample, 0 if absent."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if match and ",".join(sorted(match.group(1).split(","))) == wanted:
            return float(match.group(2))
    return 0.0


def test_api_key_guards_prediction_but_not_health_metrics_or_docs(server):
    missing = post_digit(server)
    assert missing.status_code == 401
    assert missing.json() == {"detail": "missing or wrong API key (send it in the X-API-Key header)",
                              "code": "unauthorized"}  # fmt: skip
    assert post_digit(server, **{"X-API-Key": "wrong"}).status_code == 401
    assert post_digit(server, **{"X-API-Key": API_KEY}).json()["label"] == 7
    for path in ("/health/live", "/health/ready", "/metrics", "/docs", "/models"):
        assert httpx.get(f"{server.url}{path}").status_code == 200, path


def test_request_id_round_trip_and_json_log_line(server):
    echoed = post_digit(server, **{"X-API-Key": API_KEY, "X-Request-ID": "trace-abc.123"})
    assert echoed.headers["x-request-id"] == "trace-abc.123"
    generated = httpx.get(f"{server.url}/health/live").headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    forged = httpx.get(f"{server.url}/health/live", headers={"X-Request-ID": "bad id <script>"}).headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", forged)  # unsafe ids are replaced, not logged
    entry = server.wait_for_log_entry(lambda e: e.get("request_id") == "trace-abc.123")
    assert entry["method"] == "POST" and entry["path"] == "/predict/digit" and entry["status"] == 200
    assert entry["model"] == "digit" and entry["batch_size"] == 1 and entry["duration_ms"] > 0


def test_metrics_expose_requests_latency_inference_batches_queue_models_and_device(server):
    before = httpx.get(f"{server.url}/metrics").text
    for _ in range(3):
        post_digit(server, **{"X-API-Key": API_KEY})
    after = httpx.get(f"{server.url}/metrics").text
    labels = {"endpoint": "/predict/digit", "method": "POST", "status": "200"}
    assert metric(after, "dlserve_requests_total", **labels) == metric(before, "dlserve_requests_total", **labels) + 3
    assert metric(after, "dlserve_request_duration_seconds_count", endpoint="/predict/digit") >= 3
    assert metric(after, "dlserve_inference_seconds_count", model="digit") > metric(
        before, "dlserve_inference_seconds_count", model="digit"
    )
    assert metric(after, "dlserve_batch_size_count", model="digit") >= 3
    assert 'dlserve_queue_depth{model="digit"} 0.0' in after
    for name in ("digit", "fashion", "house", "poem"):
        assert metric(after, "dlserve_model_loaded", model=name) == 1.0
    assert metric(after, "dlserve_device_info", device="cpu") == 1.0


def test_a_client_that_leaves_mid_body_is_one_info_line_and_a_499_not_an_error(server):
    before = httpx.get(f"{server.url}/metrics").text
    with socket.create_connection(("127.0.0.1", server.port)) as conn:
        conn.sendall(
            b"POST /predict/digit HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            + f"X-API-Key: {API_KEY}\r\nX-Request-ID: gone-halfway\r\nContent-Length: 5000\r\n\r\n".encode()
            + b'{"pixels": [0, 0, 0,'
        )
        time.sleep(0.2)  # the server is now waiting for the rest of the body
    entry = server.wait_for_log_entry(lambda e: e.get("request_id") == "gone-halfway")
    assert (entry["level"], entry["status"], entry["path"]) == ("info", 499, "/predict/digit")
    time.sleep(0.2)
    log = server.log()
    assert "Traceback" not in log and "Exception in ASGI application" not in log
    assert [e for e in server.log_entries() if e["level"] == "error"] == []
    after = httpx.get(f"{server.url}/metrics").text
    closed = {"endpoint": "/predict/digit", "method": "POST", "status": "499"}
    assert metric(after, "dlserve_requests_total", **closed) == metric(before, "dlserve_requests_total", **closed) + 1
    failed = {"endpoint": "/predict/digit", "method": "POST", "status": "500"}
    assert metric(after, "dlserve_requests_total", **failed) == 0


def test_sigterm_during_a_burst_answers_every_request_and_exits_0(tmp_path):
    # The batcher holds requests up to 1 s, so they are provably in flight when SIGTERM lands.
    live = LiveServer(tmp_path / "server.log", MAX_WAIT_MS="1000", MAX_BATCH_SIZE="256", LOG_FORMAT="text")
    burst = 24
    try:
        live.wait_ready()
        with ThreadPoolExecutor(max_workers=burst) as pool:
            futures = [
                pool.submit(httpx.post, f"{live.url}/predict/digit", json=DIGIT, timeout=60) for _ in range(burst)
            ]
            # Until every request is either answered or waiting in the server's batcher (a lone first request
            # may be answered at once: the batcher only waits for company once traffic is concurrent).
            for _ in range(500):
                queued = metric(httpx.get(f"{live.url}/metrics").text, "dlserve_queue_depth", model="digit")
                if queued >= 1 and queued + sum(f.done() for f in futures) == burst:
                    break
                time.sleep(0.02)
            assert queued >= 1 and queued + sum(f.done() for f in futures) == burst
            exit_code = live.terminate()
            statuses = [f.result().status_code for f in futures]
        assert statuses == [200] * burst
        assert exit_code == 0
        assert "shut down cleanly" in live.log()
    finally:
        live.close()
