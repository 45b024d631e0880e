"""The service as deployed: a real uvicorn process, its metrics, logs, API key and graceful shutdown."""

import contextlib
import re
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest
import tritonclient.grpc as triton

from tests.deploy.live_server import LiveServer, request_being_read
from training.image_examples import DIGIT_PIXELS

pytestmark = pytest.mark.live

API_KEY = "test-key-123"
DIGIT = {"pixels": DIGIT_PIXELS}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = LiveServer(tmp_path_factory.mktemp("live") / "server.log", API_KEY=API_KEY, LOG_FORMAT="json",
                      BODY_TIMEOUT_S="1")  # fmt: skip
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
        if not labels and line.startswith(f"{name} "):
            return float(line.split()[1])
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
    head = (
        b"POST /predict/digit HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        + f"X-API-Key: {API_KEY}\r\nX-Request-ID: gone-halfway\r\nContent-Length: 5000\r\n\r\n".encode()
    )
    request_being_read(server.port, head, b'{"pixels": [0, 0, 0,').close()  # gone while the server reads
    entry = server.wait_for_log_entry(lambda e: e.get("request_id") == "gone-halfway")
    assert (entry["level"], entry["status"], entry["path"]) == ("info", 499, "/predict/digit")
    server.settle()
    log = server.log()
    assert "Traceback" not in log and "Exception in ASGI application" not in log
    assert [e for e in server.log_entries() if e["level"] == "error"] == []
    after = httpx.get(f"{server.url}/metrics").text
    closed = {"endpoint": "/predict/digit", "method": "POST", "status": "499"}
    assert metric(after, "dlserve_requests_total", **closed) == metric(before, "dlserve_requests_total", **closed) + 1
    failed = {"endpoint": "/predict/digit", "method": "POST", "status": "500"}
    assert metric(after, "dlserve_requests_total", **failed) == 0


def test_a_body_that_trickles_in_is_cut_off_with_408(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn:
        conn.sendall(
            b"POST /predict/digit HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            + f"X-API-Key: {API_KEY}\r\nContent-Length: 5000\r\n\r\n".encode()
        )
        started, answer = time.perf_counter(), b""
        while b"\r\n\r\n" not in answer:
            try:
                conn.sendall(b"0")  # one byte every 50 ms: 5,000 bytes would take four minutes
            except OSError:
                break
            time.sleep(0.05)
            conn.setblocking(False)
            with contextlib.suppress(BlockingIOError):  # nothing to read yet
                answer += conn.recv(4096)
            conn.setblocking(True)
        assert time.perf_counter() - started < 5
    assert answer.startswith(b"HTTP/1.1 408")
    assert b"did not arrive within 1 s (BODY_TIMEOUT_S)" in answer
    assert post_digit(server, **{"X-API-Key": API_KEY}).status_code == 200  # and the server serves on


def grpc_digit(target: str) -> int:
    """One digit through the gRPC door; 200 when answered (as the HTTP requests beside it are)."""
    image = triton.InferInput("pixels", [1, 784], "UINT8")
    image.set_data_from_numpy(np.array([DIGIT["pixels"]], dtype=np.uint8))
    triton.InferenceServerClient(target).infer("digit", [image], client_timeout=60)
    return 200


def test_sigterm_during_a_burst_answers_every_request_and_exits_0(tmp_path):
    # The batcher holds requests up to 1 s, so they are provably in flight when SIGTERM lands.
    live = LiveServer(tmp_path / "server.log", MAX_WAIT_MS="1000", MAX_BATCH_SIZE="256", LOG_FORMAT="text")
    burst, over_grpc = 24, 8  # HTTP and gRPC calls: both doors drain
    try:
        live.wait_ready()
        with ThreadPoolExecutor(max_workers=burst) as pool:
            futures = [
                pool.submit(httpx.post, f"{live.url}/predict/digit", json=DIGIT, timeout=60)
                for _ in range(burst - over_grpc)
            ] + [pool.submit(grpc_digit, live.grpc_target) for _ in range(over_grpc)]
            # Until every request is either answered or waiting in the server's batcher (a lone first request
            # may be answered at once: the batcher only waits for company once traffic is concurrent).
            for _ in range(500):
                queued = metric(httpx.get(f"{live.url}/metrics").text, "dlserve_queue_depth", model="digit")
                if queued >= 1 and queued + sum(f.done() for f in futures) == burst:
                    break
                time.sleep(0.02)
            assert queued >= 1 and queued + sum(f.done() for f in futures) == burst
            exit_code = live.terminate()
            statuses = [getattr(f.result(), "status_code", f.result()) for f in futures]
        assert statuses == [200] * burst
        assert exit_code == 0
        assert "shut down cleanly" in live.log()
    finally:
        live.close()


def test_requests_still_running_past_the_grace_period_get_a_503_that_says_to_send_them_again(tmp_path):
    # No grace at all, and the batcher holding requests for 1 s: SIGTERM finds them waiting, and uvicorn
    # cancels them at once. Each is answered 503 shutting_down (uvicorn's own answer would be a text 500).
    live = LiveServer(tmp_path / "server.log", MAX_WAIT_MS="1000", MAX_BATCH_SIZE="256", GRACEFUL_TIMEOUT_S="0")
    burst = 8
    try:
        live.wait_ready()
        with ThreadPoolExecutor(max_workers=burst + 1) as pool:
            futures = [
                pool.submit(httpx.post, f"{live.url}/predict/digit", json=DIGIT, timeout=60) for _ in range(burst)
            ]
            futures.append(pool.submit(httpx.post, f"{live.url}/v2/models/digit/infer", timeout=60,
                                       json={"inputs": [{"name": "pixels", "shape": [1, 784], "datatype": "UINT8",
                                                         "data": DIGIT["pixels"]}]}))  # fmt: skip
            for _ in range(500):  # until they all wait in the batcher (a lone first one may be answered at once)
                queued = metric(httpx.get(f"{live.url}/metrics").text, "dlserve_queue_depth", model="digit")
                if queued >= 2 and queued + sum(f.done() for f in futures) == burst + 1:
                    break
                time.sleep(0.02)
            exit_code = live.terminate()
            answers = [f.result() for f in futures]
        cut_off = [a for a in answers if a.status_code != 200]
        assert len(cut_off) >= 2 and {a.status_code for a in cut_off} == {503}
        for answer in cut_off:
            assert answer.headers["retry-after"] == "1" and answer.headers["connection"] == "close"
            assert answer.headers["x-request-id"]
            if answer.request.url.path.startswith("/v2"):
                assert (
                    answer.json() == {"error": answer.json()["error"]}
                    and "GRACEFUL_TIMEOUT_S" in answer.json()["error"]
                )
            else:
                assert answer.json()["code"] == "shutting_down" and "GRACEFUL_TIMEOUT_S" in answer.json()["detail"]
        assert exit_code == 0
        assert "Traceback" not in live.log()
    finally:
        live.close()


def abandon(server, head: bytes, part_of_body: bytes) -> None:
    """Send the head and part of the body of a request, then go away while the server reads it."""
    request_being_read(server.port, head, part_of_body).close()


def test_uploads_and_streams_abandoned_halfway_leave_no_error_and_no_queued_work(server):
    boundary = "XyZ"
    csv_head = ",".join(f"pixel{i}" for i in range(784)).encode()
    abandon(server, (f"POST /predict/digit/batch HTTP/1.1\r\nHost: t\r\nX-API-Key: {API_KEY}\r\n"
                     f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: 900000\r\n\r\n"
                     f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"test.csv\"\r\n"
                     "Content-Type: text/csv\r\n\r\n").encode(), csv_head + b"\n0,0,0")  # fmt: skip
    with socket.create_connection(("127.0.0.1", server.port)) as conn:  # a poem stream read halfway
        body = '{"start": "春", "line_num": 8, "seed": 5}'.encode()
        conn.sendall(b"POST /generate/poem/stream HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                     + f"X-API-Key: {API_KEY}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)  # fmt: skip
        assert conn.recv(200).startswith(b"HTTP/1.1 200")
    server.settle()
    assert [e for e in server.log_entries() if e["level"] in ("error", "critical")] == []
    assert "Traceback" not in server.log()
    metrics = httpx.get(f"{server.url}/metrics").text
    for name in ("digit", "fashion", "house"):
        assert metric(metrics, "dlserve_queue_depth", model=name) == 0
    deadline = time.perf_counter() + 10  # the abandoned poem leaves the scheduler at its next pass
    while metric(httpx.get(f"{server.url}/metrics").text, "dlserve_queue_depth", model="poem") != 0:
        assert time.perf_counter() < deadline, "the abandoned poem is still in the scheduler"
        time.sleep(0.02)
    assert post_digit(server, **{"X-API-Key": API_KEY}).json()["label"] == 7


def test_sigterm_while_a_kaggle_sized_csv_is_answered_lets_it_finish(tmp_path):
    rows = "\n".join([",".join(f"pixel{i}" for i in range(784))] + [",".join(map(str, DIGIT_PIXELS))] * 28_000)
    live = LiveServer(tmp_path / "server.log", LOG_FORMAT="text")
    try:
        live.wait_ready()
        with ThreadPoolExecutor(max_workers=1) as pool:
            answer = pool.submit(httpx.post, f"{live.url}/predict/digit/batch",
                                 files={"file": ("test.csv", rows.encode(), "text/csv")}, timeout=120)  # fmt: skip
            for _ in range(500):  # until the server is working on it
                if metric(httpx.get(f"{live.url}/metrics").text, "dlserve_batch_size_count", model="digit") > 1:
                    break
                time.sleep(0.02)
            exit_code = live.terminate()
            response = answer.result()
        assert response.status_code == 200
        assert response.text.count("\n") == 28_001 and response.text.rstrip().endswith("28000,7")
        assert exit_code == 0
    finally:
        live.close()


def test_a_poem_stream_whose_client_never_reads_holds_nothing_up(server):
    body = '{"start": "月", "line_num": 8, "seed": 9}'.encode()
    head = (f"POST /generate/poem/stream HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            f"X-API-Key: {API_KEY}\r\nContent-Length: {len(body)}\r\n\r\n").encode()  # fmt: skip
    idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(8)]
    try:
        written = metric(httpx.get(f"{server.url}/metrics").text, "dlserve_poem_characters_total")
        for conn in idle:
            conn.sendall(head + body)  # and never read a byte of the answer
        deadline = time.perf_counter() + 30
        while metric(httpx.get(f"{server.url}/metrics").text, "dlserve_poem_characters_total") == written:
            assert time.perf_counter() < deadline, "the unread streams never started"
            time.sleep(0.02)  # until the poems are being written into sockets no one reads
        started = time.perf_counter()
        assert post_digit(server, **{"X-API-Key": API_KEY}).status_code == 200
        # Held up behind the unread streams, it would wait for their writes to time out (minutes); a digit
        # takes milliseconds, and a wide bound keeps a busy two-core machine from failing it.
        assert time.perf_counter() - started < 10
        poem = httpx.post(f"{server.url}/generate/poem", json={"seed": 2}, headers={"X-API-Key": API_KEY})
        assert poem.status_code == 200
    finally:
        for conn in idle:
            conn.close()
    server.settle()
    assert [e for e in server.log_entries() if e["level"] in ("error", "critical")] == []
