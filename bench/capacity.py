"""Capacity on paper from numbers measured here: how many 2-core replicas a given load needs.

`python -m bench.capacity --digits-per-s 10000 --poems-per-s 200` starts dlserve as `make serve` does,
measures one replica (this machine's cores) under wrk — JSON digits at 64 connections, 4×7 poems at
32 connections (enough to fill a pass of the poem scheduler), resident memory after both — and turns
that into replicas, cores and memory:

    replica-seconds per second = digits/s ÷ digit throughput + poems/s ÷ poem throughput
    replicas = ceil(that ÷ target utilization) + spare replicas

The utilization target is the HorizontalPodAutoscaler's (70 % CPU, deploy/k8s/base/hpa.yaml), so the
autoscaler would settle about there; the spare replica keeps the load served while one pod is replaced
(PodDisruptionBudget maxUnavailable 1). wrk runs on the same cores as the server, so the per-replica
numbers understate a replica that has its cores to itself. Needs wrk (Debian package).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import tempfile
from pathlib import Path

from bench.peers import POEM_BODY, Peer, rss_mb, run_wrk, running, wrk_script
from training.image_examples import DIGIT_PIXELS

TARGET_UTILIZATION = 0.70
SPARE_REPLICAS = 1
DIGIT_CONNECTIONS = 64
# Poems are decoded together (MAX_ACTIVE_POEMS, 32): a replica is measured with enough of them to fill a pass.
POEM_CONNECTIONS = 32


def measure(seconds: int, folder: Path) -> dict[str, float]:
    server = Peer(
        "dlserve", [sys.executable, "-m", "app"], "/health/ready", {"HOST": "127.0.0.1", "LOG_LEVEL": "warning"}
    )
    digit = wrk_script(folder, "digit", json.dumps({"pixels": DIGIT_PIXELS}).encode(), "application/json")
    # What a client gets by default: a rhymed (pingshui) poem.
    poem = wrk_script(folder, "poem", json.dumps(POEM_BODY | {"rhyme": "pingshui"}).encode(), "application/json")
    with running(server, folder) as (process, port, _):
        run_wrk(port, "/predict/digit", digit, DIGIT_CONNECTIONS, 2, process.pid)  # warm-up
        digits = run_wrk(port, "/predict/digit", digit, DIGIT_CONNECTIONS, seconds, process.pid)
        poems = run_wrk(port, "/generate/poem", poem, POEM_CONNECTIONS, seconds, process.pid, timeout_s=10)
        rss = rss_mb(process.pid)
    return {"digit_rps": digits["requests_per_s"], "digit_p99_ms": digits["p99_ms"], "digit_errors": digits["errors"],
            "poem_rps": poems["requests_per_s"], "poem_p99_ms": poems["p99_ms"], "poem_errors": poems["errors"],
            "rss_mb": rss}  # fmt: skip


def plan(measured: dict[str, float], digits_per_s: float, poems_per_s: float, cores: int) -> dict[str, float]:
    busy = digits_per_s / measured["digit_rps"] + poems_per_s / measured["poem_rps"]  # replica-seconds per second
    replicas = math.ceil(busy / TARGET_UTILIZATION) + SPARE_REPLICAS
    return {"busy_replicas": busy, "replicas": replicas, "cores": replicas * cores,
            "memory_gb": replicas * measured["rss_mb"] / 1024}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digits-per-s", type=float, default=10_000)
    parser.add_argument("--poems-per-s", type=float, default=200)
    parser.add_argument("--cores", type=int, default=2, help="cores per replica (the Kubernetes CPU request)")
    parser.add_argument("--seconds", type=int, default=10, help="length of each wrk run")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("bench.capacity needs wrk: apt-get install wrk", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="dlserve-capacity-") as folder:
        measured = measure(args.seconds, Path(folder))
    print("one replica, measured on this machine:")
    print(f"  JSON digits, {DIGIT_CONNECTIONS} connections: {measured['digit_rps']:,.0f}/s, "
          f"p99 {measured['digit_p99_ms']:.1f} ms, {measured['digit_errors']:.0f} errors")  # fmt: skip
    print(f"  poems 4×7, {POEM_CONNECTIONS} connections: {measured['poem_rps']:,.1f}/s, "
          f"p99 {measured['poem_p99_ms']:.1f} ms, {measured['poem_errors']:.0f} errors")  # fmt: skip
    print(f"  resident memory after both: {measured['rss_mb']:,.0f} MB")
    for digits, poems in ((args.digits_per_s, 0.0), (0.0, args.poems_per_s), (args.digits_per_s, args.poems_per_s)):
        need = plan(measured, digits, poems, args.cores)
        print(f"{digits:,.0f} digits/s + {poems:,.0f} poems/s: busy {need['busy_replicas']:.1f} replicas → "
              f"{need['replicas']} replicas at ≤ {TARGET_UTILIZATION:.0%} (+{SPARE_REPLICAS} spare), "
              f"{need['cores']} cores, {need['memory_gb']:.1f} GB resident")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
