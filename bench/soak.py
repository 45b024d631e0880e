"""`make soak`: dlserve under a mixed load, an overload, and the same load again.

It starts the service as `make serve` does and runs three phases:

1. normal (NORMAL_S, 60 s): 48 wrk connections posting JSON digits, plus 16 client threads cycling
   through a fashion upload (PNG), a digit upload (JPEG), a house, Kaggle's whole house test.csv
   (1,459 rows; from `make data`), a poem, a poem stream, and GET /health/live;
2. overload (OVERLOAD_S, 30 s): the same clients, with wrk at 8× the connections (a closed-loop
   load this deep keeps the digit queue several batches long, about 4× what the service answers
   at once);
3. normal again, as in phase 1.

After each phase it reads the server's own counters (requests by endpoint and status, from
/metrics), resident memory, open file descriptors and the digit queue depth; after the overload
it also times how long until the service answers a digit as fast as before. It prints the
tables and checks the targets: no 5xx and no timeouts in the normal phases; only 200s and 503s
with Retry-After under overload; resident memory grows less than 5 % between the two normal
phases; fast again within 5 s after the overload; in the normal phases, a streamed poem's first
character within 0.25 s (p50) and the whole stream within 1.5× the same poem unstreamed (p50).
"""

from __future__ import annotations

import argparse
import base64
import http.client
import io
import json
import re
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

from PIL import Image

from bench.peers import Peer, missing_tools, rss_mb, run_wrk, running, wrk_script
from training.house_columns import EXAMPLE as HOUSE
from training.image_examples import DIGIT_PIXELS, DIGIT_PNG_BASE64, FASHION_PNG_BASE64

HOUSE_TEST_CSV = Path(__file__).resolve().parents[1] / "data" / "house-prices" / "test.csv"
CLIENT_THREADS = 16
WRK_CONNECTIONS = 48
OVERLOAD_FACTOR = 8
MAX_RSS_GROWTH = 0.05
MAX_RECOVERY_S = 5.0
TIMEOUT_S = 30.0
# Streamed poems, in the normal phases: the first character soon, and the whole stream not much slower
# than the same poem unstreamed (both are written by the one poem scheduler).
MAX_FIRST_CHAR_MS = 250.0
MAX_STREAM_OVER_POEM = 1.5
FIRST_CHAR = "poem stream, first character"


def multipart(name: str, data: bytes) -> tuple[bytes, str]:
    boundary = "soakboundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"  # fmt: skip


def jpeg(png_base64: str) -> bytes:
    buffer = io.BytesIO()
    Image.open(io.BytesIO(base64.b64decode(png_base64))).convert("L").save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def mixed_requests() -> list[tuple[str, str, str, bytes | None, str]]:
    """(label, method, path, body, content type) for the client threads to cycle through."""
    fashion, fashion_type = multipart("boot.png", base64.b64decode(FASHION_PNG_BASE64))
    digit, digit_type = multipart("seven.jpg", jpeg(DIGIT_PNG_BASE64))
    houses, houses_type = multipart("test.csv", HOUSE_TEST_CSV.read_bytes())
    poem = json.dumps({"start": "春", "seed": 11}).encode()
    return [
        ("fashion upload", "POST", "/predict/fashion", fashion, fashion_type),
        ("digit upload", "POST", "/predict/digit", digit, digit_type),
        ("house", "POST", "/predict/house-price", json.dumps(HOUSE).encode(), "application/json"),
        ("house test.csv", "POST", "/predict/house-price/batch", houses, houses_type),
        ("poem", "POST", "/generate/poem", poem, "application/json"),
        ("poem stream", "POST", "/generate/poem/stream", poem, "application/json"),
        ("health", "GET", "/health/live", None, ""),
    ]


class MixedClients:
    """CLIENT_THREADS threads, each cycling through mixed_requests() on its own keep-alive connection."""

    def __init__(self, port: int) -> None:
        self.port, self.requests = port, mixed_requests()
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.statuses: Counter[str] = Counter()
        self.retry_after_missing = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(CLIENT_THREADS)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def collect(self) -> tuple[dict[str, list[float]], Counter[str], int]:
        """What was measured since the last call, and start afresh."""
        with self._lock:
            taken = (self.latencies, self.statuses, self.retry_after_missing)
            self.latencies, self.statuses, self.retry_after_missing = defaultdict(list), Counter(), 0
        return taken

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=TIMEOUT_S + 5)

    def _run(self, offset: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT_S)
        turn = offset
        while not self._stop.is_set():
            label, method, path, body, content_type = self.requests[turn % len(self.requests)]
            turn += 1
            started = time.perf_counter()
            try:
                conn.request(method, path, body, {"Content-Type": content_type} if body else {})
                response = conn.getresponse()
                first_char = None
                if label == "poem stream" and response.status == 200:
                    while (line := response.readline()) and not line.startswith(b"event: char"):
                        pass
                    first_char = (time.perf_counter() - started) * 1000
                response.read()
                status, retry_after = str(response.status), response.getheader("Retry-After")
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                status, retry_after = type(exc).__name__, None
                time.sleep(0.05)
            elapsed = (time.perf_counter() - started) * 1000
            with self._lock:
                self.latencies[label].append(elapsed)
                if first_char is not None:
                    self.latencies[FIRST_CHAR].append(first_char)
                self.statuses[f"{label} {status}"] += 1
                if status == "503" and retry_after is None:
                    self.retry_after_missing += 1


def server_counts(port: int) -> Counter[str]:
    """dlserve_requests_total by 'endpoint status', from the server's own metrics."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    counts: Counter[str] = Counter()
    for endpoint, status, value in re.findall(
        r'dlserve_requests_total\{endpoint="([^"]+)",method="[A-Z]+",status="(\d+)"\} (\S+)', text
    ):
        counts[f"{endpoint} {status}"] += int(float(value))
    queue = re.search(r'dlserve_queue_depth\{model="digit"\} (\S+)', text)
    counts["queue depth (digit)"] = int(float(queue.group(1))) if queue else -1
    return counts


def open_fds(pid: int) -> int:
    return len(list(Path(f"/proc/{pid}/fd").iterdir()))


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def digit_ms(port: int, body: bytes) -> float:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT_S)
    started = time.perf_counter()
    conn.request("POST", "/predict/digit", body, {"Content-Type": "application/json"})
    conn.getresponse().read()
    return (time.perf_counter() - started) * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--normal-s", type=int, default=60)
    parser.add_argument("--overload-s", type=int, default=30)
    args = parser.parse_args(argv)
    if missing := [m for m in missing_tools() if m.startswith("wrk")]:
        print("missing: " + "; ".join(missing), file=sys.stderr)
        return 2
    if not HOUSE_TEST_CSV.exists():
        print(f"missing: {HOUSE_TEST_CSV} (run `make data`)", file=sys.stderr)
        return 2
    digit_body = json.dumps({"pixels": DIGIT_PIXELS}).encode()
    phases = [("normal", WRK_CONNECTIONS, args.normal_s), ("overload", WRK_CONNECTIONS * OVERLOAD_FACTOR,
              args.overload_s), ("normal again", WRK_CONNECTIONS, args.normal_s)]  # fmt: skip
    rows, checks = [], []
    with (
        tempfile.TemporaryDirectory() as tmp,
        running(Peer("dlserve", [sys.executable, "-m", "app"], "/health/ready", {"HOST": "127.0.0.1"}), Path(tmp)) as (
            process,
            port,
            _,
        ),
    ):
        script = wrk_script(Path(tmp), "digit", digit_body, "application/json")
        rss = {"start": rss_mb(process.pid)}
        clients = MixedClients(port)
        clients.start()
        for name, connections, seconds in phases:
            before = server_counts(port)
            wrk = run_wrk(port, "/predict/digit", script, connections, seconds, process.pid, timeout_s=TIMEOUT_S)
            after = server_counts(port)
            latencies, statuses, no_retry_after = clients.collect()
            rss[name] = rss_mb(process.pid)
            served = {k: after[k] - before[k] for k in after if k != "queue depth (digit)" and after[k] > before[k]}
            rows.append((name, connections, wrk, latencies, statuses, served, after["queue depth (digit)"],
                         open_fds(process.pid)))  # fmt: skip
            failures = {k: v for k, v in served.items() if k.split()[-1].startswith("5")}
            timeouts = sum(v for k, v in statuses.items() if "timeout" in k.lower()) + wrk["timeouts"]
            if name == "overload":
                refused = {k: v for k, v in failures.items() if not k.endswith(" 503")}
                checks.append(("overload: only 200s and 503s with Retry-After, no timeouts",
                               f"{refused or 'none'} other 5xx, {timeouts} timeouts, {no_retry_after} 503s "
                               "without Retry-After", not refused and not timeouts and not no_retry_after))  # fmt: skip
                # Fast again = a digit answered as fast as the normal phase's median, with the mixed clients on.
                normal_p50, recovered = rows[0][2]["p50_ms"], time.perf_counter()
                while digit_ms(port, digit_body) > normal_p50 and time.perf_counter() - recovered < 30:
                    time.sleep(0.05)
                recovery_s = time.perf_counter() - recovered
                clients.collect()  # the recovery wait belongs to no phase
            else:
                checks.append((f"{name}: no 5xx, no timeouts", f"{failures or 'none'}, {timeouts} timeouts",
                               not failures and not timeouts))  # fmt: skip
                checks += stream_checks(name, latencies)
        clients.stop()
    growth = rss["normal again"] / rss["normal"] - 1
    checks += [
        ("resident memory, second normal phase vs first", f"{rss['normal']:.0f} → {rss['normal again']:.0f} MB "
         f"({growth:+.1%})", growth < MAX_RSS_GROWTH),
        ("fast again after the overload (a digit as fast as the normal phase's p50)", f"{recovery_s:.2f} s",
         recovery_s <= MAX_RECOVERY_S),
    ]  # fmt: skip
    report(rows, rss, checks)
    return 0 if all(passed for _, _, passed in checks) else 1


def stream_checks(phase: str, latencies: dict[str, list[float]]) -> list[tuple[str, str, bool]]:
    """Streamed poems against the targets: first character p50, and whole stream ÷ unstreamed poem, p50."""
    first = percentile(latencies[FIRST_CHAR], 0.5)
    ratio = percentile(latencies["poem stream"], 0.5) / percentile(latencies["poem"], 0.5)
    return [
        (f"{phase}: a streamed poem's first character, p50 ≤ {MAX_FIRST_CHAR_MS:g} ms", f"{first:.0f} ms",
         first <= MAX_FIRST_CHAR_MS),
        (f"{phase}: whole stream ÷ unstreamed poem, p50 ≤ {MAX_STREAM_OVER_POEM:g}×", f"{ratio:.2f}×",
         ratio <= MAX_STREAM_OVER_POEM),
    ]  # fmt: skip


def report(rows: list, rss: dict[str, float], checks: list[tuple[str, str, bool]]) -> None:
    print(f"resident memory MB: {', '.join(f'{k} {v:.0f}' for k, v in rss.items())}\n")
    print("| phase | request | requests | p50 ms | p99 ms |\n|---|---|---:|---:|---:|")
    for name, connections, wrk, latencies, _, _, _, _ in rows:
        print(f"| {name} | JSON digit (wrk, {connections} connections) | {wrk['requests']} | {wrk['p50_ms']:.1f} "
              f"| {wrk['p99_ms']:.1f} |")  # fmt: skip
        for label, samples in sorted(latencies.items()):
            print(f"| {name} | {label} | {len(samples)} | {percentile(samples, 0.5):.1f} "
                  f"| {percentile(samples, 0.99):.1f} |")  # fmt: skip
    print("\n| phase | answers by endpoint and status (server's counters) | digit queue after | open fds |")
    print("|---|---|---:|---:|")
    for name, _, _, _, _, served, queue, fds in rows:
        print(f"| {name} | {', '.join(f'{k}: {v}' for k, v in sorted(served.items()))} | {queue} | {fds} |")
    print("\n| target | measured | result |\n|---|---|---|")
    for target, measured, passed in checks:
        print(f"| {target} | {measured} | {'PASS' if passed else 'FAIL'} |")


if __name__ == "__main__":
    sys.exit(main())
