"""`python -m bench.poems`: rhymed 4×7 poems per second under concurrent clients, and one client's latency.

In one run it starts the service (`python -m app`, as `make serve` does) several ways, one at a time, and
drives `POST /generate/poem` with wrk (a C load generator, cheap beside the server on the same cores):

  (a) `MAX_ACTIVE_POEMS=1`: one poem decoded at a time (no batching);
  (b) the defaults: continuous batching, every poem in progress advancing one step per forward pass;
  (c) with `--baseline DIR`, a checkout of the code before the scheduler (`git worktree add DIR <rev>`),
      where each request decodes its poem alone on a thread of its own.

Each with 32 connections (`--clients`) for `--seconds`, then 1 connection. The body asks for the default
rhymed 4×7 poem with no seed (a new poem each time). It prints a table and the ratios, batched ÷ the
baseline (or ÷ (a) without one): poems/s at 32 clients ≥ 4×, one client's p50 ≤ 1.1×, 0 errors.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from bench.peers import free_port, missing_tools, run_wrk, wrk_script

ROOT = Path(__file__).resolve().parents[1]
POEM = {"line_num": 4, "line_length": 7, "rhyme": "pingshui"}
MIN_GAIN, MAX_ALONE_RATIO = 4.0, 1.1


@contextmanager
def serving(code: Path, log: Path, **settings: str) -> Iterator[tuple[int, int]]:
    """(port, pid) of the service started from the checkout `code` with the committed models; stopped after."""
    port = free_port()
    env = os.environ | {"HOST": "127.0.0.1", "PORT": str(port), "GRPC_PORT": str(free_port()),
                        "MODEL_DIR": str(ROOT / "models"), "DEVICE": "cpu", "LOG_LEVEL": "warning"}  # fmt: skip
    env |= settings
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "app"], cwd=code, env=env, stdout=out, stderr=out)
        try:
            deadline = time.perf_counter() + 120
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"the server exited with {process.returncode}; see {log}")
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.perf_counter() > deadline:
                    raise RuntimeError(f"the server was not ready in 120 s; see {log}")
                time.sleep(0.2)
            yield port, process.pid
        finally:
            process.terminate()
            process.wait(timeout=60)


def measure(port: int, pid: int, script: Path, clients: int, seconds: int) -> dict[str, dict[str, float]]:
    run_wrk(port, "/generate/poem", script, 4, 3, pid, timeout_s=30)  # warm-up
    loaded = run_wrk(port, "/generate/poem", script, clients, seconds, pid, timeout_s=30)
    alone = run_wrk(port, "/generate/poem", script, 1, seconds, pid, timeout_s=30)
    return {"loaded": loaded, "alone": alone}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=20, help="each wrk run")
    parser.add_argument("--clients", type=int, default=32, help="concurrent connections of the loaded run")
    parser.add_argument("--baseline", type=Path, help="a checkout of the code before, started the same way")
    args = parser.parse_args(argv)
    if missing := [m for m in missing_tools() if m.startswith("wrk")]:
        print(f"missing: {missing[0]}")
        return 2
    # wrk's connections are all one client (127.0.0.1) to the per-client limit, which is not what is measured
    # here: every server gets room for them all, the baseline's lower default (32) included.
    room = {"PER_CLIENT_POEMS": str(4 * args.clients)}
    runs = {"MAX_ACTIVE_POEMS=1": (ROOT, room | {"MAX_ACTIVE_POEMS": "1"}), "continuous batching": (ROOT, room)}
    if args.baseline is not None:
        runs = {"before (a thread per poem)": (args.baseline.resolve(), room)} | runs
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        script = wrk_script(Path(folder), "poem", json.dumps(POEM).encode(), "application/json")
        for name, (code, settings) in runs.items():
            print(f"… {name}", flush=True)
            with serving(code, Path(folder) / "server.log", **settings) as (port, pid):
                results[name] = measure(port, pid, script, args.clients, args.seconds)
    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} cores; wrk -t1, {args.seconds} s per run; rhymed 4×7\n")
    print(f"| server | poems/s at {args.clients} clients | p50 ms | p99 ms | errors | one client p50 ms | p99 ms |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, r in results.items():
        loaded, alone = r["loaded"], r["alone"]
        print(f"| {name} | {loaded['requests_per_s']:.1f} | {loaded['p50_ms']:.1f} | {loaded['p99_ms']:.1f} | "
              f"{loaded['errors']:.0f} | {alone['p50_ms']:.1f} | {alone['p99_ms']:.1f} |")  # fmt: skip
    base = results[next(iter(runs))]
    new = results["continuous batching"]
    gain = new["loaded"]["requests_per_s"] / base["loaded"]["requests_per_s"]
    alone_ratio = new["alone"]["p50_ms"] / base["alone"]["p50_ms"]
    errors = sum(r["loaded"]["errors"] + r["alone"]["errors"] for r in results.values())
    checks = [
        (f"poems/s at {args.clients} clients, batched ÷ {next(iter(runs))} ≥ {MIN_GAIN:g}×", f"{gain:.2f}×",
         gain >= MIN_GAIN),
        (f"one client's p50, batched ÷ {next(iter(runs))} ≤ {MAX_ALONE_RATIO:g}×", f"{alone_ratio:.2f}×",
         alone_ratio <= MAX_ALONE_RATIO),
        ("errors", f"{errors:.0f}", errors == 0),
    ]  # fmt: skip
    print("\n| target | measured | result |\n|---|---:|---|")
    for target, measured, passed in checks:
        print(f"| {target} | {measured} | {'PASS' if passed else 'FAIL'} |")
    return 0 if all(passed for *_, passed in checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
