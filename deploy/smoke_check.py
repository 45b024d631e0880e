"""The checks of `make docker-smoke` against a running container: every endpoint once, then a stop under load.

Standard library only, so it runs with any Python 3.11 on the host (the image has the project's packages,
the host need not). Inputs are real: the MNIST and Fashion-MNIST rows the API documents as examples (with
their true labels), and the house the OpenAPI document shows (the first row of Kaggle's test.csv).

    python3 deploy/smoke_check.py --url http://127.0.0.1:8000 --stop "docker-compose -p dlserve-smoke stop api"
"""

from __future__ import annotations

import argparse
import http.client
import json
import runpy
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = runpy.run_path(str(ROOT / "training" / "image_examples.py"))
BURST = 24  # poems streaming when the container is told to stop
HELD = 8  # poem requests whose body is held back until the stop has begun
MIN_PRICE, MAX_PRICE = 30_000, 800_000  # Kaggle's training prices span 34,900–755,000


class Smoke:
    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.failures: list[str] = []

    def call(self, method: str, path: str, body: bytes | None = None, content_type: str = "application/json",
             timeout: float = 60) -> tuple[int, bytes]:  # fmt: skip
        request = urllib.request.Request(self.url + path, data=body, method=method)
        if body is not None:
            request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def check(self, name: str, passed: bool, detail: str) -> None:
        print(f"  {'ok  ' if passed else 'FAIL'} {name}: {detail}")
        if not passed:
            self.failures.append(name)

    def post_json(self, path: str, payload: Any) -> tuple[int, Any]:
        status, body = self.call("POST", path, json.dumps(payload).encode())
        return status, json.loads(body) if body.startswith((b"{", b"[")) else body

    def post_csv(self, path: str, csv_text: str) -> tuple[int, str]:
        boundary = "dlserve-smoke-boundary"
        body = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="test.csv"\r\n'
                f"Content-Type: text/csv\r\n\r\n{csv_text}\r\n--{boundary}--\r\n").encode()  # fmt: skip
        status, answer = self.call("POST", path, body, f"multipart/form-data; boundary={boundary}")
        return status, answer.decode(errors="replace")

    def every_endpoint(self) -> None:
        for path in ("/health/live", "/health/ready", "/", "/docs", "/redoc", "/metrics"):
            status, _ = self.call("GET", path)
            self.check(f"GET {path}", status == 200, str(status))
        status, body = self.call("GET", "/models")
        models = {m["name"]: m for m in json.loads(body)} if status == 200 else {}
        self.check("GET /models", set(models) == {"digit", "fashion", "house", "poem"}, f"{status} {sorted(models)}")
        status, body = self.call("GET", "/models/poem")
        self.check("GET /models/poem", status == 200 and json.loads(body)["name"] == "poem", str(status))
        status, body = self.call("GET", "/openapi.json")
        house = example_house(json.loads(body)) if status == 200 else {}
        self.check("GET /openapi.json", status == 200 and bool(house), str(status))

        for model, pixels, label in (("digit", EXAMPLES["DIGIT_PIXELS"], EXAMPLES["DIGIT_LABEL"]),
                                     ("fashion", EXAMPLES["FASHION_PIXELS"], EXAMPLES["FASHION_LABEL"])):  # fmt: skip
            status, answer = self.post_json(f"/predict/{model}", {"pixels": pixels})
            got = answer.get("label") if isinstance(answer, dict) else answer
            self.check(f"POST /predict/{model}", status == 200 and got == label, f"{status} label {got}, true {label}")
            first = 0 if model == "digit" else 1  # Kaggle's digit files count pixels from 0, Fashion's from 1
            header = ",".join(f"pixel{i}" for i in range(first, first + 784))
            csv_text = header + "\n" + "\n".join(",".join(map(str, pixels)) for _ in range(3)) + "\n"
            status, text = self.post_csv(f"/predict/{model}/batch", csv_text)
            rows = text.strip().splitlines()
            self.check(f"POST /predict/{model}/batch", status == 200 and len(rows) == 4 and
                       all(row.endswith(f",{label}") for row in rows[1:]), f"{status} {rows[:2]}")  # fmt: skip

        status, answer = self.post_json("/predict/house-price", house)
        price = answer.get("sale_price", 0) if isinstance(answer, dict) else 0
        self.check(
            "POST /predict/house-price", status == 200 and MIN_PRICE < price < MAX_PRICE, f"{status} ${price:,.0f}"
        )
        columns = ["Id", *house]
        row = ["1461", *("" if value is None else str(value) for value in house.values())]
        status, text = self.post_csv("/predict/house-price/batch", ",".join(columns) + "\n" + ",".join(row) + "\n")
        self.check("POST /predict/house-price/batch", status == 200 and text.startswith("Id,SalePrice"), f"{status}")

        status, answer = self.post_json("/generate/poem", {"start": "春", "line_num": 4, "line_length": 5, "seed": 7})
        lines = answer.get("lines", []) if isinstance(answer, dict) else []
        self.check(
            "POST /generate/poem",
            status == 200 and len(lines) == 4,
            f"{status} {answer.get('poem', '').replace(chr(10), ' ')}",
        )
        status, body = self.call("POST", "/generate/poem/stream", json.dumps({"start": "月", "seed": 7}).encode())
        events = [line for line in body.decode().splitlines() if line.startswith("event:")]
        self.check(
            "POST /generate/poem/stream", status == 200 and "event: done" in events, f"{status} {len(events)} events"
        )

    def stop_under_load(self, stop_command: str) -> None:
        """Requests in flight at SIGTERM are answered whole, nothing new is accepted, the process exits by itself.

        "In flight" is made certain, not guessed with a sleep: HELD requests send their head with
        `Expect: 100-continue` and hold back their body. The server's `100 Continue` says it has taken the
        request and is reading it; it cannot answer before the body arrives, which is sent only once the
        service refuses new connections (SIGTERM has landed). Beside them, BURST poems are streamed, each
        read up to its first event (taken and being written), so every one is answered or still running.
        """
        host, port = urllib.parse.urlsplit(self.url).hostname, urllib.parse.urlsplit(self.url).port or 80
        streams = [PoemCall(host, port, "/generate/poem/stream", seed) for seed in range(BURST)]
        held = [PoemCall(host, port, path, BURST + i, hold_body=True)
                for i, path in enumerate(["/generate/poem", "/generate/poem/stream"] * (HELD // 2))]  # fmt: skip
        try:
            for call in streams:
                call.start()
            for call in streams:
                call.read_until(b"event: ")
            for call in held:
                call.start()
            for call in held:
                call.read_until(b"HTTP/1.1 100 Continue\r\n\r\n")
        except OSError as error:
            self.check("stop during a burst", False, f"could not put requests in flight: {error!r}")
            return
        started = time.perf_counter()
        stop = subprocess.Popen(stop_command, shell=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        refused_after = self.wait_until_refused(timeout=60)
        for call in held:
            call.send_body()
        answers = [call.answer() for call in streams + held]
        stop_output = stop.communicate(timeout=120)[0].decode(errors="replace").strip()
        whole = [answer for answer in answers if answer.whole]
        others = [answer.summary for answer in answers if not answer.whole]
        self.check(
            "stop during a burst",
            stop.returncode == 0 and refused_after is not None and len(whole) == len(answers),
            f"{HELD} held + {BURST} streaming requests in flight at SIGTERM; "
            + (
                "new connections still accepted after 60 s; "
                if refused_after is None
                else f"new connections refused {refused_after:.1f} s later; "
            )
            + f"{len(whole)}/{len(answers)} answered whole; stop took {time.perf_counter() - started:.1f} s"
            + (f"; others: {others[:3]}" if others else "")
            + ("" if stop.returncode == 0 else f"; the stop command exited {stop.returncode}: {stop_output[-300:]}"),
        )

    def wait_until_refused(self, timeout: float) -> float | None:
        """Seconds until the service no longer answers a new request (None: it still did after `timeout`)."""
        started = time.perf_counter()
        while time.perf_counter() - started < timeout:
            try:
                status, _ = self.call("GET", "/health/live", timeout=2)
            except (OSError, urllib.error.URLError, http.client.HTTPException):
                return time.perf_counter() - started
            if status != 200:
                return time.perf_counter() - started
            time.sleep(0.02)
        return None


class PoemCall:
    """One eight-line poem request over a raw socket, so the check controls when its body is sent."""

    def __init__(self, host: str, port: int, path: str, seed: int, hold_body: bool = False) -> None:
        self.host, self.port, self.path, self.hold_body = host, port, path, hold_body
        self.body = json.dumps({"line_num": 8, "line_length": 7, "seed": seed}).encode()
        self.received = b""
        self.conn: socket.socket | None = None

    def start(self) -> None:
        self.conn = socket.create_connection((self.host, self.port), timeout=60)
        head = (f"POST {self.path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(self.body)}\r\n" + ("Expect: 100-continue\r\n" if self.hold_body else "")
                + "\r\n").encode()  # fmt: skip
        self.conn.sendall(head if self.hold_body else head + self.body)

    def read_until(self, marker: bytes) -> None:
        assert self.conn is not None
        while marker not in self.received:
            chunk = self.conn.recv(65536)
            if not chunk:
                raise ConnectionError(f"{self.path} closed before {marker!r}: {self.received[:200]!r}")
            self.received += chunk

    def send_body(self) -> None:
        assert self.conn is not None
        try:
            self.conn.sendall(self.body)
        except OSError as error:
            self.received += f"(the body could not be sent: {error!r})".encode()

    def answer(self) -> Answer:
        """Everything until the server closes the connection (it does after SIGTERM: no keep-alive)."""
        assert self.conn is not None
        with self.conn:
            try:
                while chunk := self.conn.recv(65536):
                    self.received += chunk
            except OSError as error:
                return Answer(self.path, 0, f"{error!r} after {self.received[-200:]!r}")
        if self.hold_body:  # the interim answer is not the answer
            self.received = self.received.split(b"HTTP/1.1 100 Continue\r\n\r\n", 1)[-1]
        head, _, body = self.received.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/1.1 ") else 0
        if b"transfer-encoding: chunked" in head.lower():
            body = dechunk(body)
        return Answer(self.path, status, body.decode(errors="replace"))


class Answer:
    def __init__(self, path: str, status: int, body: str) -> None:
        self.path, self.status, self.body = path, status, body

    @property
    def whole(self) -> bool:
        """200 and a complete eight-line poem: the stream's `done` event, or the JSON answer's lines."""
        if self.status != 200:
            return False
        if self.path.endswith("/stream"):
            return "event: done" in self.body and "event: error" not in self.body
        try:
            return len(json.loads(self.body)["lines"]) == 8
        except (ValueError, KeyError, TypeError):
            return False

    @property
    def summary(self) -> str:
        return f"{self.path} {self.status} {self.body[-120:]!r}"


def dechunk(body: bytes) -> bytes:
    """The payload of an HTTP/1.1 chunked body (as much of it as arrived)."""
    out = b""
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out, body = out + rest[:size], rest[size + 2 :]
    return out


def example_house(openapi: dict[str, Any]) -> dict[str, Any]:
    """The example house the API documents: what Swagger's "Try it out" sends."""
    content = openapi["paths"]["/predict/house-price"]["post"]["requestBody"]["content"]["application/json"]
    examples = content.get("examples") or {"one": {"value": content.get("example")}}
    value = next(iter(examples.values()))["value"]
    return value[0] if isinstance(value, list) else value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--stop", help="shell command that stops the container (SIGTERM)")
    args = parser.parse_args()
    smoke = Smoke(args.url)
    print(f"every endpoint, once, at {smoke.url}:")
    smoke.every_endpoint()
    if args.stop:
        print("graceful stop:")
        smoke.stop_under_load(args.stop)
    print("smoke checks: " + ("all passed" if not smoke.failures else f"FAILED: {', '.join(smoke.failures)}"))
    return 1 if smoke.failures else 0


if __name__ == "__main__":
    sys.exit(main())
