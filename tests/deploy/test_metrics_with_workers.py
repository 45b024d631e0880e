"""WORKERS=2: every scrape of /metrics, whichever worker answers it, counts the requests of both workers."""

import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.deploy.live_server import LiveServer
from tests.deploy.test_live_server import metric
from training.image_examples import DIGIT_PIXELS

pytestmark = pytest.mark.live

REQUESTS = 60
DIGIT_OK = {"endpoint": "/predict/digit", "method": "POST", "status": "200"}


def metric_folders() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("dlserve-metrics-*"))


@pytest.fixture(scope="module")
def folders_before() -> set[Path]:
    return metric_folders()


@pytest.fixture(scope="module")
def server(tmp_path_factory, folders_before):
    live = LiveServer(tmp_path_factory.mktemp("workers") / "server.log", WORKERS="2", LOG_FORMAT="json")
    try:
        live.wait_ready()
        live.wait_for_log_entry(lambda e: "model poem" in e.get("message", "") and e["pid"] != first_pid(live))
        yield live
    finally:
        live.close()


def first_pid(live: LiveServer) -> int:
    return next(e["pid"] for e in live.log_entries() if "model poem" in e.get("message", ""))


def post_digit(url: str) -> int:
    # A client per request: a new connection each time, so the kernel spreads them over both workers.
    with httpx.Client(timeout=30) as client:
        return client.post(f"{url}/predict/digit", json={"pixels": DIGIT_PIXELS}).status_code


def test_both_workers_answer_and_every_scrape_counts_all_their_requests(server):
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(post_digit, [server.url] * REQUESTS))
    assert statuses == [200] * REQUESTS
    served_by = {e["pid"] for e in server.log_entries() if e.get("path") == "/predict/digit"}
    assert len(served_by) == 2, "the requests should have reached both workers"
    for _ in range(6):  # scrapes land on either worker; each must see the sum
        with httpx.Client(timeout=10) as client:
            text = client.get(f"{server.url}/metrics").text
        assert metric(text, "dlserve_requests_total", **DIGIT_OK) == REQUESTS
        assert metric(text, "dlserve_batch_size_count", model="digit") >= REQUESTS / 32
        assert metric(text, "dlserve_queue_depth", model="digit") == 0
        for name in ("digit", "fashion", "house", "poem"):
            assert metric(text, "dlserve_model_loaded", model=name) == 1.0
        assert metric(text, "dlserve_device_info", device="cpu") == 1.0


def test_both_workers_stop_cleanly_and_their_metric_files_go_with_them(server, folders_before):
    assert metric_folders() - folders_before, "the workers' metric folder should exist while they run"
    assert server.terminate() == 0
    assert "Traceback" not in server.log()
    assert not metric_folders() - folders_before
