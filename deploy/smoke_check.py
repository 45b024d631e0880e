"""The checks of `make docker-smoke` against a running container: every endpoint once, then a stop under load.

Standard library only, so it runs with any Python 3.11 on the host (the image has the project's packages,
the host need not). Inputs are real: the MNIST and Fashion-MNIST rows the API documents as examples (with
their true labels), and the house the OpenAPI document shows (the first row of Kaggle's test.csv).

    python3 deploy/smoke_check.py --url http://127.0.0.1:8000 --stop "docker-compose -p dlserve-smoke stop api"
"""

from __future__ import annotations

import argparse
import json
import runpy
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = runpy.run_path(str(ROOT / "app" / "schemas" / "image_examples.py"))
BURST = 24  # poems in flight when the container is told to stop
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
        """Poems in flight when SIGTERM arrives must all be answered; the container must then exit by itself."""
        results: list[int | str] = [0] * BURST

        def one(index: int) -> None:
            try:
                results[index] = self.post_json("/generate/poem", {"line_num": 8, "line_length": 7, "seed": index})[0]
            except (OSError, urllib.error.URLError) as error:
                results[index] = f"{type(error).__name__}: {error}"

        threads = [threading.Thread(target=one, args=(i,)) for i in range(BURST)]
        for thread in threads:
            thread.start()
        time.sleep(0.5)  # every request sent and queued behind the first poems
        in_flight = BURST - sum(result != 0 for result in results)
        started = time.perf_counter()
        stop = subprocess.run(stop_command, shell=True, capture_output=True, text=True)
        for thread in threads:
            thread.join(timeout=120)
        answered = sum(result == 200 for result in results)
        self.check("stop during a burst", stop.returncode == 0 and answered == BURST and in_flight > 0,
                   f"{in_flight} of {BURST} requests in flight at SIGTERM; {answered}/{BURST} answered 200; "
                   f"stop took {time.perf_counter() - started:.1f} s"
                   + ("" if answered == BURST else f"; others: {[r for r in results if r != 200][:3]}"))  # fmt: skip


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
