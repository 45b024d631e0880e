"""`python -m bench.reload`: replace the digit model ten times under load, and offer a corrupt one once.

The real server runs on a copy of models/, with model control on (MODEL_CONTROL=explicit and an admin
key made for the run: reloads are refused by default). 64 keep-alive clients — half on POST /predict/digit
(JSON pixels), half on POST /v2/models/digit/infer (binary UINT8 tensors) — send a real MNIST digit
in closed loops while another thread calls POST /v2/repository/models/digit/load ten times,
alternating two checkpoint versions (the committed one, and the same weights under another version
name), and once offers a corrupt model.pt (with a meta.json whose checksum matches it, so that only
loading it can tell). Targets: 0 failed requests; every answer's
model_version is one of the two versions; the corrupt load is refused (400) and the version being
served is unchanged by it. It prints the counts and the latency overall and during the loads.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import secrets
import shutil
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from app.api.v2_tensors import HEADER_LENGTH
from bench.serve import HEADERS, percentile, running_server
from training.image_examples import DIGIT_PIXELS

ROOT = Path(__file__).resolve().parents[1]
CLIENTS = 64
RELOADS = 10
REQUEST_TIMEOUT_S = 60.0
JSON_BODY = json.dumps({"pixels": DIGIT_PIXELS}).encode()
V2_HEAD = json.dumps(
    {
        "inputs": [{"name": "pixels", "datatype": "UINT8", "shape": [1, 784], "parameters": {"binary_data_size": 784}}],
        "outputs": [{"name": "label"}],
    }
).encode()
V2_BODY = V2_HEAD + bytes(DIGIT_PIXELS)
V2_HEADERS = HEADERS | {"Content-Type": "application/octet-stream", HEADER_LENGTH: str(len(V2_HEAD))}
# Reloads are off unless the server is started with model control on and an admin key of its own.
ADMIN_KEY = secrets.token_hex(16)
CONTROL = {"MODEL_CONTROL": "explicit", "ADMIN_API_KEY": ADMIN_KEY}
ADMIN_HEADERS = HEADERS | {"X-Admin-Key": ADMIN_KEY}


def write_atomically(path: Path, data: bytes) -> None:
    """Replace a file in one rename, as a deployment should: a reader never sees half of it."""
    part = path.with_suffix(path.suffix + ".part")
    part.write_bytes(data)
    os.replace(part, path)


class Versions:
    """The digit model's two checkpoint versions (and a corrupt one) in a models folder of its own."""

    def __init__(self, folder: Path) -> None:
        self.meta_path, self.model_path = folder / "digit" / "meta.json", folder / "digit" / "model.pt"
        self.model = self.model_path.read_bytes()
        meta = json.loads(self.meta_path.read_text(encoding="utf-8"))
        self.a = meta["version"]
        self.b = f"{self.a}-reload-b"
        self.metas = {self.a: self.meta_path.read_bytes(), self.b: json.dumps(meta | {"version": self.b}).encode()}

    def install(self, version: str) -> None:
        write_atomically(self.model_path, self.model)
        write_atomically(self.meta_path, self.metas[version])

    def install_corrupt(self) -> None:
        """A broken model.pt whose meta.json checksum matches it: only loading it can tell."""
        broken = b"PK\x03\x04 this is not a TorchScript archive"
        meta = json.loads(self.metas[self.a]) | {"version": "corrupt", "sha256": hashlib.sha256(broken).hexdigest()}
        write_atomically(self.model_path, broken)
        write_atomically(self.meta_path, json.dumps(meta).encode())


def call(conn: http.client.HTTPConnection, method: str, path: str, body: bytes, headers: dict) -> tuple[int, bytes]:
    conn.request(method, path, body, headers)
    response = conn.getresponse()
    return response.status, response.read()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pause", type=float, default=1.0, help="seconds between two loads")
    parser.add_argument("--threads", type=int, default=2, help="torch threads of the server")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        models = Path(scratch) / "models"
        shutil.copytree(ROOT / "models", models)
        versions = Versions(models)
        with running_server(models, "cpu", True, args.threads, **CONTROL) as server:
            return run(server.port, versions, args.pause)


def run(port: int, versions: Versions, pause: float) -> int:
    stop = threading.Event()
    answers: list[list[tuple[float, float, int, str]]] = [[] for _ in range(CLIENTS)]  # (sent, took, status, version)
    loads: list[tuple[float, float, str, int, str]] = []  # (started, ended, offered, status, serving after)

    def client(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)
        v2 = i % 2 == 1
        while not stop.is_set():
            sent = time.perf_counter()
            try:
                if v2:
                    status, body = call(conn, "POST", "/v2/models/digit/infer", V2_BODY, V2_HEADERS)
                else:
                    status, body = call(conn, "POST", "/predict/digit", JSON_BODY, HEADERS)
                version = json.loads(body).get("model_version", "?") if status == 200 else body.decode()[:200]
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                status, version = 0, type(exc).__name__
            answers[i].append((sent, time.perf_counter() - sent, status, version))

    def serving_version(conn: http.client.HTTPConnection) -> str:
        return json.loads(call(conn, "GET", "/models/digit", b"", HEADERS)[1])["version"]

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    admin = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)
    time.sleep(2 * pause)  # the clients are up and the queue is steady before the first load
    plan = [versions.b if n % 2 == 0 else versions.a for n in range(RELOADS)]
    plan.insert(RELOADS // 2, "corrupt")
    for offered in plan:
        if offered == "corrupt":
            versions.install_corrupt()
        else:
            versions.install(offered)
        started = time.perf_counter()
        status, _ = call(admin, "POST", "/v2/repository/models/digit/load", b"{}", ADMIN_HEADERS)
        ended = time.perf_counter()
        loads.append((started, ended, offered, status, serving_version(admin)))
        if offered == "corrupt":  # put the last good version back, as an operator would
            versions.install(loads[-2][2] if len(loads) > 1 else versions.a)
        time.sleep(pause)
    stop.set()
    for thread in threads:
        thread.join(timeout=REQUEST_TIMEOUT_S)
    return report([a for per_client in answers for a in per_client], loads, versions)


def report(answers: list[tuple[float, float, int, str]], loads: list, versions: Versions) -> int:
    statuses = Counter(status for _, _, status, _ in answers)
    seen = Counter(version for _, _, status, version in answers if status == 200)
    failed = sum(count for status, count in statuses.items() if status != 200)
    during = [took for sent, took, _, _ in answers if any(s <= sent + took and sent <= e for s, e, *_ in loads)]
    calm = [took for sent, took, _, _ in answers if not any(s <= sent + took and sent <= e for s, e, *_ in loads)]
    print(f"## Reload under load: {CLIENTS} clients (half /predict/digit, half /v2/models/digit/infer)\n")
    print("| load | offered | status | took | serving after |\n|---:|---|---:|---:|---|")
    for number, (started, ended, offered, status, after) in enumerate(loads, start=1):
        print(f"| {number} | {offered} | {status} | {(ended - started) * 1000:.0f} ms | {after} |")
    print(f"\nrequests: {len(answers):,}; failed: {failed}; statuses: {dict(statuses)}")
    print(f"versions answered: {dict(seen)}")
    for label, latencies in (("during a load", during), ("otherwise", calm)):
        if latencies:
            print(f"latency {label}: {len(latencies):,} requests, p50 {percentile(latencies, 50) * 1000:.1f} ms, "
                  f"p99 {percentile(latencies, 99) * 1000:.1f} ms")  # fmt: skip
    corrupt = [i for i, load in enumerate(loads) if load[2] == "corrupt"]
    refused = all(loads[i][3] == 400 and loads[i][4] == loads[i - 1][4] for i in corrupt)
    good = all(load[3] == 200 and load[4] == load[2] for load in loads if load[2] != "corrupt")
    checks = {
        "0 failed requests": failed == 0,
        "every answer's model_version is one of the two versions": set(seen) <= {versions.a, versions.b},
        "both versions answered": {versions.a, versions.b} <= set(seen),
        "every good load swapped its version in": good,
        "the corrupt load was refused and the serving version unchanged": refused,
    }
    for check, passed in checks.items():
        print(f"{'PASS' if passed else 'FAIL'}: {check}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
