"""`make bench`, second half: the whole service under load, over real HTTP, on this machine.

bench/inference.py times the models alone; this times what a client of the service sees. It starts
the real server (uvicorn, app.main:create_app) as a subprocess and measures:

- time to ready: from process start until GET /health/ready answers 200 (all four models loaded and warmed);
- POST /predict/digit with a real MNIST "7" from 1, 16 and 64 concurrent clients for a fixed time each,
  with micro-batching on, then again on a fresh server with BATCHING=false: requests/s, p50, p99, errors;
- POST /generate/poem for a 4×7 poem, one request at a time (each poem is 32 sequential model steps);
- the server's resident memory (VmRSS) with all four models loaded, after the load.

It prints Markdown tables for the README and checks the targets (PASS/FAIL; --strict exits 1 on a FAIL).

Why the load generator is plain threads with one keep-alive `http.client` connection each: it shares
the CPU cores with the server, so every cycle it spends is one the server loses. A thread sending a
pre-encoded body does very little Python per request and spends most of its time blocked on the socket
(GIL released). Each client sends, waits for the answer, then sends again (a closed loop), so N clients
keep at most N requests in flight, like N users would; a fixed-rate (open-loop) generator would instead
measure how fast a queue grows once the rate exceeds capacity.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, NamedTuple

from training.image_examples import DIGIT_PIXELS

ROOT = Path(__file__).resolve().parents[1]
# No access log, as with `python -m app`: writing a line per request is not what is being measured.
SERVER = [sys.executable, "-m", "uvicorn", "--factory", "app.main:create_app", "--no-access-log", "--host", "127.0.0.1"]
# Targets (checked after the run) and limits that keep every wait bounded.
MIN_BATCHING_GAIN = 2.0  # requests/s with batching on ÷ off, at the highest client count
MAX_POEM_P50_MS = 50.0
MAX_RHYME_COST = 1.3  # a rhymed 4×7 poem's p50 against a free one, same server and run
MAX_READY_S = 10.0
MAX_RSS_MB = 700.0
READY_TIMEOUT_S = 120.0
POLL_S = 0.05
STOP_TIMEOUT_S = 15.0  # SIGTERM lets uvicorn finish in-flight requests; after this, SIGKILL
REQUEST_TIMEOUT_S = 30.0  # bounds each client call, so a hung server cannot hang the benchmark

DIGIT_BODY = json.dumps({"pixels": DIGIT_PIXELS}).encode()  # encoded once: no per-request client work
HEADERS = {"Content-Type": "application/json"}
if "API_KEY" in os.environ:  # the server inherits this environment, so it expects this key
    HEADERS["X-API-Key"] = os.environ["API_KEY"]


@dataclass
class Row:
    """One line of the results table: a load run (or the poem series) reduced to its numbers."""

    run: str
    clients: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: dict[str, int] = field(default_factory=dict)  # HTTP status or exception name → count


class Check(NamedTuple):
    target: str
    measured: str
    passed: bool


class ServerError(RuntimeError):
    """The server did not start, or never became ready."""


class Server(NamedTuple):
    pid: int
    port: int
    ready_s: float


def percentile(samples: list[float], q: float) -> float:
    """The q-th percentile (0–100), linear between the two nearest ranks (numpy's default); NaN if empty."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarize(run: str, clients: int, elapsed_s: float, latencies_ms: list[float], errors: Counter[str]) -> Row:
    """Only 200 answers count: they make the throughput and the percentiles; the rest are errors."""
    rate = len(latencies_ms) / elapsed_s if elapsed_s > 0 else 0.0
    return Row(
        run, clients, rate, percentile(latencies_ms, 50), percentile(latencies_ms, 99), dict(sorted(errors.items()))
    )


def format_table(rows: list[Row]) -> str:
    lines = ["| run | clients | requests/s | p50 ms | p99 ms | errors |", "|---|---:|---:|---:|---:|---|"]
    for r in rows:
        errors = ", ".join(f"{name}×{count}" for name, count in r.errors.items()) or "0"
        lines.append(f"| {r.run} | {r.clients} | {r.requests_per_s:.1f} | {r.p50_ms:.1f} | {r.p99_ms:.1f} | {errors} |")
    return "\n".join(lines)


def check_targets(gain: float, clients: int, poem_p50_ms: float, ready_s: float, rss_mb: float,
                  rhyme_cost: float) -> list[Check]:  # fmt: skip
    # A NaN (nothing measured) compares False, so it fails rather than passes.
    return [
        Check(f"batching on ÷ off, requests/s at {clients} clients ≥ {MIN_BATCHING_GAIN:g}×", f"{gain:.2f}×",
              gain >= MIN_BATCHING_GAIN),
        Check(f"poem 4×7 p50 ≤ {MAX_POEM_P50_MS:g} ms", f"{poem_p50_ms:.1f} ms", poem_p50_ms <= MAX_POEM_P50_MS),
        Check(f"time to ready ≤ {MAX_READY_S:g} s", f"{ready_s:.2f} s", ready_s <= MAX_READY_S),
        Check(f"server RSS ≤ {MAX_RSS_MB:g} MB", f"{rss_mb:.0f} MB", rss_mb <= MAX_RSS_MB),
        Check(f"poem p50, rhyme on ÷ rhyme none ≤ {MAX_RHYME_COST:g}×", f"{rhyme_cost:.2f}×",
              rhyme_cost <= MAX_RHYME_COST),
    ]  # fmt: skip


def format_checks(checks: list[Check]) -> str:
    lines = ["| target | measured | result |", "|---|---:|---|"]
    lines += [f"| {c.target} | {c.measured} | {'PASS' if c.passed else 'FAIL'} |" for c in checks]
    return "\n".join(lines)


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB (MiB: /proc reports kB of 1024 bytes)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def post(conn: http.client.HTTPConnection, path: str, body: bytes) -> str:
    """Send one request and read the whole answer (so the connection can be reused); its status or error name."""
    try:
        conn.request("POST", path, body, HEADERS)
        response = conn.getresponse()
        response.read()
        return str(response.status)
    except (OSError, http.client.HTTPException) as exc:
        conn.close()  # http.client reconnects by itself on the next request
        time.sleep(POLL_S)  # a dead server must not turn a client loop into a busy spin
        return type(exc).__name__


def _log_tail(log: IO[bytes]) -> str:
    log.seek(0)
    return log.read().decode(errors="replace")[-4000:]


def _wait_ready(proc: subprocess.Popen, port: int, started: float, log: IO[bytes]) -> float:
    last = "no answer"  # a 503 names the models that are down: worth showing if it never turns 200
    while (elapsed := time.perf_counter() - started) < READY_TIMEOUT_S:
        if proc.poll() is not None:
            raise ServerError(f"the server exited with code {proc.returncode} before it was ready:\n{_log_tail(log)}")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        try:
            conn.request("GET", "/health/ready")
            response = conn.getresponse()
            if response.status == 200:
                return elapsed
            last = f"{response.status} {response.read()[:500].decode(errors='replace')}"
        except (OSError, http.client.HTTPException):
            pass  # not listening yet: uvicorn binds only after the lifespan has loaded the models
        finally:
            conn.close()
        time.sleep(POLL_S)
    raise ServerError(
        f"the server was not ready after {READY_TIMEOUT_S:.0f} s (GET /health/ready: {last}); its output:\n"
        + _log_tail(log)
    )


@contextmanager
def running_server(models_dir: Path, device: str, batching: bool, torch_threads: int, **extra: str) -> Iterator[Server]:
    """The real service in a subprocess on a free local port, with `extra` settings; stopped on the way out."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # GRPC_PORT 0: these runs measure HTTP; several may overlap, and none may need port 8001 free.
    settings = {"MODEL_DIR": str(models_dir), "DEVICE": device, "BATCHING": str(batching).lower(),
                "TORCH_THREADS": str(torch_threads), "LOG_LEVEL": "warning", "GRPC_PORT": "0", **extra}  # fmt: skip
    with tempfile.TemporaryFile() as log:  # a file, not a pipe: a full pipe would stall the server
        started = time.perf_counter()
        proc = subprocess.Popen(
            [*SERVER, "--port", str(port)], cwd=ROOT, env=os.environ | settings, stdout=log, stderr=log
        )
        try:
            yield Server(proc.pid, port, _wait_ready(proc, port, started, log))
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def run_load(port: int, clients: int, seconds: float, run: str) -> Row:
    """`clients` threads, each a closed loop on its own keep-alive connection, all measured over the same window."""
    latencies: list[list[float]] = [[] for _ in range(clients)]  # one list per thread: no lock on the hot path
    errors: list[Counter[str]] = [Counter() for _ in range(clients)]
    window: list[float] = []

    def open_window() -> None:  # runs once, when every client is connected and warmed up
        window.append(time.perf_counter())

    barrier = threading.Barrier(clients, action=open_window, timeout=2 * REQUEST_TIMEOUT_S)

    def client(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)
        post(conn, "/predict/digit", DIGIT_BODY)  # connect first, so the window does not start with N handshakes
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            return
        deadline = window[0] + seconds
        while (sent := time.perf_counter()) < deadline:
            status = post(conn, "/predict/digit", DIGIT_BODY)
            if status == "200":
                latencies[i].append((time.perf_counter() - sent) * 1000)
            else:
                errors[i][status] += 1
        conn.close()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    give_up = time.perf_counter() + seconds + 4 * REQUEST_TIMEOUT_S
    for thread in threads:
        thread.join(timeout=max(0.0, give_up - time.perf_counter()))
    elapsed = time.perf_counter() - window[0] if window else 0.0  # to the last answer, which may end past the window
    return summarize(run, clients, elapsed, [x for xs in latencies for x in xs], sum(errors, Counter()))


def measure_poem(port: int, count: int, warmup: int = 3) -> tuple[Row, Row]:
    """4×7 poems one at a time, rhymed (pingshui, the default) and free (rhyme none) in turn: (rhymed, free)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)
    latencies: dict[str, list[float]] = {"pingshui": [], "none": []}
    errors: Counter[str] = Counter()
    busy = dict.fromkeys(latencies, 0.0)
    for i in range(warmup + count):
        for rhyme in latencies:
            request = {"start": "春", "line_num": 4, "line_length": 7, "seed": i, "rhyme": rhyme}
            sent = time.perf_counter()
            status = post(conn, "/generate/poem", json.dumps(request, ensure_ascii=False).encode())
            if i >= warmup and status == "200":
                latencies[rhyme].append((time.perf_counter() - sent) * 1000)
                busy[rhyme] += time.perf_counter() - sent
            elif i >= warmup:
                errors[status] += 1
    conn.close()
    return (summarize("poem 4×7, sequential, rhyme pingshui", 1, busy["pingshui"], latencies["pingshui"], errors),
            summarize("poem 4×7, sequential, rhyme none", 1, busy["none"], latencies["none"], Counter()))  # fmt: skip


def machine(torch_threads: int, device: str) -> dict[str, object]:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")), "?")
    return {"cpus": os.cpu_count(), "cpu_model": model, "torch_threads": torch_threads or "torch default",
            "device": device, "load_average_1m": round(os.getloadavg()[0], 2)}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", type=Path, default=Path("models"))
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    parser.add_argument(
        "--torch-threads", type=int, default=0, help="TORCH_THREADS for the server; 0 = torch's default"
    )
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 16, 64], help="concurrent clients per run")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each load run")
    parser.add_argument("--poem-requests", type=int, default=50)
    parser.add_argument("--json", type=Path, help="also write the numbers to this file")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the `finally` that stops the server runs
    info = machine(args.torch_threads, args.device)
    print("machine: " + ", ".join(f"{k} {v}" for k, v in info.items()), flush=True)

    rows: list[Row] = []
    ready_s: dict[str, float] = {}
    rss: dict[str, float] = {}
    for batching in ("on", "off"):
        with running_server(args.models_dir.resolve(), args.device, batching == "on", args.torch_threads) as server:
            ready_s[batching] = server.ready_s
            print(f"batching {batching}: ready in {server.ready_s:.2f} s", file=sys.stderr, flush=True)
            for clients in args.clients:
                rows.append(run_load(server.port, clients, args.seconds, f"digit, batching {batching}"))
                print(f"  {clients} clients: {rows[-1].requests_per_s:.0f} requests/s", file=sys.stderr, flush=True)
            if batching == "on":
                poem, free_poem = measure_poem(server.port, args.poem_requests)
            rss[batching] = rss_mb(server.pid)

    top = max(args.clients)
    on, off = (next(r.requests_per_s for r in rows if r.clients == top and r.run.endswith(m)) for m in ("on", "off"))
    gain = on / off if off else float("nan")
    rhyme_cost = poem.p50_ms / free_poem.p50_ms if free_poem.p50_ms else float("nan")
    checks = check_targets(gain, top, poem.p50_ms, max(ready_s.values()), max(rss.values()), rhyme_cost)
    print(f"\n{format_table([*rows, poem, free_poem])}\n")
    print(f"time to ready: {ready_s['on']:.2f} s (batching on), {ready_s['off']:.2f} s (off); "
          f"server RSS after the load: {rss['on']:.0f} MB (on), {rss['off']:.0f} MB (off); "
          f"batching on ÷ off at {top} clients: {gain:.2f}×\n")  # fmt: skip
    print(format_checks(checks))
    if args.json:
        numbers = {"machine": info, "rows": [asdict(r) for r in rows], "poem": asdict(poem),
                   "free_poem": asdict(free_poem), "rhyme_cost": rhyme_cost, "ready_s": ready_s,
                   "rss_mb": rss, "batching_gain": gain, "checks": [c._asdict() for c in checks]}  # fmt: skip
        args.json.write_text(json.dumps(numbers, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 1 if args.strict and not all(c.passed for c in checks) else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except ServerError as exc:
        sys.exit(f"error: {exc}")
    except KeyboardInterrupt:  # the server is already stopped by then; no traceback for a Ctrl-C
        sys.exit(130)
