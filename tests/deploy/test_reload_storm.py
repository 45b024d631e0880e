"""A reload storm: every model reloaded every 100–200 ms for a minute while every door is busy.

Every request must be answered — 200, or a designed refusal with its code (503 model_unavailable or
model_replaced or queue_full while a model is swapped) — none may hang, none may be a 500, and when the
storm is over the service is ready with as many threads as before it: no retired batcher or poem scheduler
is left running. The doors: REST JSON and streams, v2 REST infer and generate, gRPC, and bodies that arrive
slowly (the reload lands while they are read).
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections import Counter

import httpx
import numpy as np
import pytest
import tritonclient.grpc as triton

from tests.deploy.live_server import LiveServer, request_being_read, serving
from training.image_examples import DIGIT_PIXELS, FASHION_PIXELS

pytestmark = pytest.mark.live

STORM_S = 60.0
ADMIN = "storm-admin"
MODELS = ("digit", "fashion", "house", "poem")
DESIGNED = {"model_unavailable", "model_replaced", "queue_full"}  # what a swap may answer, with its code
POEM = {"seed": 1, "line_num": 4, "line_length": 5}
HOUSE = {"GrLivArea": 1710, "OverallQual": 7, "YearBuilt": 2003}
V2_DIGIT = {"inputs": [{"name": "pixels", "shape": [1, 784], "datatype": "UINT8", "data": DIGIT_PIXELS}]}
V2_POEM = {"text_input": "", "parameters": POEM}
HTTP_DOORS = [  # (path, body, what a whole 200 contains)
    ("/predict/digit", {"pixels": DIGIT_PIXELS}, '"label"'),
    ("/predict/fashion", [{"pixels": FASHION_PIXELS}] * 4, '"label"'),
    ("/predict/house-price", HOUSE, '"sale_price"'),
    ("/generate/poem", POEM, '"poem"'),
    ("/generate/poem/stream", POEM, "event: done"),
    ("/v2/models/digit/infer", V2_DIGIT, '"outputs"'),
    ("/v2/models/poem/generate", V2_POEM, '"text_output"'),
    ("/v2/models/poem/generate_stream", V2_POEM, '"rhymes"'),
]


def threads_of(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def code_of(text: str) -> str | None:
    try:
        body = json.loads(text)
    except ValueError:
        return None
    return body.get("code") if isinstance(body, dict) else None


class Tally:
    """Answers by door and outcome, and every answer that was not a designed one."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.outcomes: Counter[tuple[str, str]] = Counter()
        self.wrong: list[str] = []

    def add(self, door: str, outcome: str, wrong: str | None = None) -> None:
        with self.lock:
            self.outcomes[door, outcome] += 1
            if wrong is not None:
                self.wrong.append(f"{door}: {wrong}")


def http_door(url: str, stop: threading.Event, tally: Tally, path: str, body, whole: str) -> None:
    with httpx.Client(base_url=url, timeout=60) as client:
        while not stop.is_set():
            try:
                answer = client.post(path, json=body)
            except httpx.TimeoutException:
                tally.add(path, "hang", "no answer in 60 s")
                continue
            if answer.status_code == 200:
                tally.add(path, "200", None if whole in answer.text else f"200 without {whole}: {answer.text[-200:]}")
            elif answer.status_code == 503 and code_of(answer.text) in DESIGNED:
                tally.add(path, code_of(answer.text))
            elif answer.status_code == 503 and path.startswith("/v2/"):  # v2 errors are {"error": ...}: no code
                tally.add(path, "503")
            else:
                tally.add(path, str(answer.status_code), f"{answer.status_code} {answer.text[:300]}")


def grpc_door(target: str, stop: threading.Event, tally: Tally) -> None:
    client, image = triton.InferenceServerClient(target), _digit_input()
    while not stop.is_set():
        try:
            result = client.infer("digit", [image], client_timeout=60)
            tally.add("grpc", "200", None if result.as_numpy("label") is not None else "no label")
        except triton.InferenceServerException as exc:
            status = str(exc.status())
            if "UNAVAILABLE" in status:
                tally.add("grpc", "UNAVAILABLE")
            else:
                tally.add("grpc", status, f"{status} {exc.message()[:300]}")
    client.close()


def slow_body_door(port: int, stop: threading.Event, tally: Tally) -> None:
    """A digit request whose body arrives in two parts 150 ms apart: reloads land while it is read."""
    data = json.dumps({"pixels": DIGIT_PIXELS}).encode()
    head = (b"POST /predict/digit HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nConnection: close\r\n"
            + f"Content-Length: {len(data)}\r\n\r\n".encode())  # fmt: skip
    while not stop.is_set():
        conn = request_being_read(port, head, data[:100])
        try:
            time.sleep(0.15)  # the slowness is the point: a reload every 100–200 ms falls inside it
            conn.sendall(data[100:])
            conn.settimeout(60)
            answer = b""
            while chunk := conn.recv(65536):
                answer += chunk
        except TimeoutError:
            tally.add("slow body", "hang", "no answer in 60 s")
            continue
        finally:
            conn.close()
        status = answer.split(b" ", 2)[1].decode() if answer.startswith(b"HTTP/1.1 ") else "none"
        body = answer.partition(b"\r\n\r\n")[2].decode(errors="replace")
        if status == "200" and '"label"' in body:
            tally.add("slow body", "200")
        elif status == "503" and code_of(body) in DESIGNED:
            tally.add("slow body", code_of(body))
        else:
            tally.add("slow body", status, f"{status} {answer[:300]!r}")


def reloader(url: str, stop: threading.Event, tally: Tally) -> None:
    rng = random.Random(0)
    with httpx.Client(base_url=url, timeout=120, headers={"X-Admin-Key": ADMIN}) as client:
        while not stop.is_set():
            for name in MODELS:
                answer = client.post(f"/v2/repository/models/{name}/load")
                tally.add("reload", str(answer.status_code), None if answer.status_code == 200 else answer.text)
                time.sleep(rng.uniform(0.1, 0.2))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with serving(tmp_path_factory.mktemp("storm") / "server.log", MODEL_CONTROL="explicit", ADMIN_API_KEY=ADMIN,
                      LOG_FORMAT="json") as live:  # fmt: skip
        yield live


def storm(server: LiveServer, seconds: float) -> Tally:
    """Every door busy and every model reloaded every 100–200 ms for `seconds`; the answers, once all are in."""
    stop, tally = threading.Event(), Tally()
    workers = [threading.Thread(target=http_door, args=(server.url, stop, tally, *door)) for door in HTTP_DOORS]
    workers += [threading.Thread(target=grpc_door, args=(server.grpc_target, stop, tally)),
                threading.Thread(target=slow_body_door, args=(server.port, stop, tally)),
                threading.Thread(target=reloader, args=(server.url, stop, tally))]  # fmt: skip
    for worker in workers:
        worker.start()
    time.sleep(seconds)  # the storm's length is what is tested; every check after it waits on what it observes
    stop.set()
    for worker in workers:
        worker.join(timeout=180)
    assert not any(worker.is_alive() for worker in workers), "a door's request never came back"
    return tally


def settled_threads(server: LiveServer, at_most: int | None = None) -> int:
    """The server's thread count once retired workers have stopped (they stop when their last request is done)."""
    deadline = time.perf_counter() + 60
    count = threads_of(server.process.pid)
    while at_most is not None and count > at_most and time.perf_counter() < deadline:
        time.sleep(0.2)
        count = threads_of(server.process.pid)
    return count


def test_every_request_is_answered_through_a_reload_storm(server):
    # A short storm first grows the thread pools that grow with concurrency (anyio's, gRPC's, the event loop's
    # executor) to the size this load gives them; what the long storm adds on top would be workers left behind.
    storm(server, 5.0)
    threads_before = settled_threads(server)
    tally = storm(server, STORM_S)
    summary = "\n".join(f"{door}: {outcome} × {n}" for (door, outcome), n in sorted(tally.outcomes.items()))
    assert tally.wrong == [], summary + "\n" + "\n".join(tally.wrong[:20])
    reloads = tally.outcomes["reload", "200"]
    assert reloads >= 4 * len(MODELS), summary  # the storm happened: each model reloaded several times
    for door in [path for path, _, _ in HTTP_DOORS] + ["grpc", "slow body"]:
        assert tally.outcomes[door, "200"] > 0, f"{door} was never served during the storm\n{summary}"
    assert httpx.get(f"{server.url}/health/ready", timeout=30).status_code == 200
    # One worker left per reload would be dozens of threads; pools may still add a thread or two under a longer run.
    assert settled_threads(server, at_most=threads_before + 2) <= threads_before + 2, (threads_before, summary)
    log = server.log()
    assert "Traceback" not in log and "Exception in ASGI application" not in log


def _digit_input() -> triton.InferInput:
    image = triton.InferInput("pixels", [1, 784], "UINT8")
    image.set_data_from_numpy(np.array([DIGIT_PIXELS], dtype=np.uint8))
    return image
