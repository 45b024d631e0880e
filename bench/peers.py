"""`make bench-peers`: dlserve side by side with the servers a user would pick instead.

In one run, on this machine, with the project's own `models/digit/model.pt` and the same body
(`{"pixels": [784 numbers]}`, a real MNIST "7"), it starts each server in turn, alone:

  (a) plain FastAPI, no model: the same body parsed as `list[float]` — the framework's ceiling;
  (b) naive FastAPI: one forward pass per request, no batching (bench/peer_servers/naive_fastapi.py);
  (c) LitServe with its dynamic batching, 32 items / 5 ms (bench/peer_servers/litserve_digit.py);
  (d) dlserve exactly as `make serve` starts it (`python -m app`, default settings: BACKEND=auto, ONNX
      Runtime for the digit model on the CPU), by JSON and by raw bytes (`application/octet-stream`);
  (e) dlserve with BACKEND=torchscript (the digit model as TorchScript, optimized), JSON at 64 connections;

and drives each with wrk (a C load generator: it costs the shared CPU far less than the server it
loads) at 1, 16 and 64 connections. It also times GET /health/live against plain FastAPI's trivial
GET, a 4×7 poem through HTTP against the model alone, time to ready and resident memory, then
prints one table and the target ratios. Absolute numbers move 2–3× between machines of this kind
from day to day; the ratios within one run are what to compare.

Needs `wrk` (Debian: apt-get install wrk) and LitServe (`pip install -e '.[bench]'`, which
`make bench-peers` does); this script installs nothing and says what is missing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.models.torchscript import load_torchscript
from training.image_examples import DIGIT_PIXELS

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "models" / "digit" / "model.pt"
CONNECTIONS = (1, 16, 64)
READY_TIMEOUT_S = 120.0
# Free decoding (rhyme "none"): the model-only loop it is compared with (bench/inference.py) does not rhyme.
POEM_BODY = {"start": "春", "line_num": 4, "line_length": 7, "seed": 7, "rhyme": "none"}
# Targets of the performance issue, each a ratio within this run (64 connections).
MIN_VS_LITSERVE = 1.6
MAX_P99_OVER_P50 = 3.0
MIN_LIVE_VS_PLAIN = 0.7
MIN_BINARY_VS_JSON = 1.0
MAX_POEM_OVER_MODEL = 1.15
MAX_READY_S = 10.0
MAX_RSS_MB = 700.0


@dataclass
class Result:
    server: str
    request: str
    connections: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_ms_per_request: float
    requests: int = 0
    timeouts: int = 0


@dataclass
class Peer:
    name: str
    command: list[str]
    ready_path: str
    env: dict[str, str]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def http_status(port: int, path: str, body: bytes | None = None) -> int:
    request = f"{'POST' if body is not None else 'GET'} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
    if body is not None:
        request += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=60) as conn:
        conn.sendall(request.encode() + b"\r\n" + (body or b""))
        return int(conn.recv(64).split()[1])


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its descendants (LitServe runs its model in child processes)."""
    ticks = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        child = int(stat.parent.name)
        parents[child], times[child] = int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks
    family, frontier = {pid}, [pid]
    while frontier:
        current = frontier.pop()
        children = [p for p, parent in parents.items() if parent == current and p not in family]
        family.update(children)
        frontier += children
    return sum(times.get(p, 0.0) for p in family)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@contextmanager
def running(peer: Peer, log_dir: Path) -> Iterator[tuple[subprocess.Popen, int, float]]:
    """(process, port, seconds to ready) of a peer started on a free port; killed on the way out."""
    port = free_port()
    command = [part.replace("{port}", str(port)) for part in peer.command]
    log = (log_dir / f"{peer.name.split()[0]}.log").open("wb")
    started = time.perf_counter()
    env = os.environ | {"GRPC_PORT": str(free_port())} | peer.env | {"PORT": str(port)}  # dlserve's gRPC too
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)  # fmt: skip
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{peer.name} exited with {process.returncode}; see {log.name}")
            if time.perf_counter() - started > READY_TIMEOUT_S:
                raise RuntimeError(f"{peer.name} not ready after {READY_TIMEOUT_S:.0f} s; see {log.name}")
            try:
                if http_status(port, peer.ready_path) == 200:
                    break
            except (OSError, IndexError, ValueError):
                pass
            time.sleep(0.05)
        yield process, port, time.perf_counter() - started
    finally:
        os.killpg(process.pid, 15)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()
        log.close()


def wrk_script(folder: Path, name: str, body: bytes | None, content_type: str) -> Path:
    """A wrk Lua script sending `body` (binary-safe) with `content_type`; GET when body is None."""
    script = folder / f"{name}.lua"
    if body is None:
        script.write_text('wrk.method = "GET"\n')
        return script
    (folder / f"{name}.body").write_bytes(body)
    script.write_text(
        f'wrk.method = "POST"\nwrk.headers["Content-Type"] = "{content_type}"\n'
        f'local f = io.open("{folder / name}.body", "rb"); wrk.body = f:read("*a"); f:close()\n'
    )
    return script


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[unit]


def run_wrk(
    port: int, path: str, script: Path, connections: int, seconds: int, pid: int, timeout_s: float = 2.0
) -> dict[str, float]:
    """One wrk run: requests/s, p50/p99, errors (socket errors + non-2xx), server CPU per request."""
    cpu_before = tree_cpu_seconds(pid)
    output = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", f"--timeout={timeout_s:g}s", "--latency",
         "-s", str(script), f"http://127.0.0.1:{port}{path}"],
        capture_output=True, text=True, check=True, timeout=seconds + 60,
    ).stdout  # fmt: skip
    cpu = tree_cpu_seconds(pid) - cpu_before
    total = int(re.search(r"(\d+) requests in", output).group(1))
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50_ms": _ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1)),
        "p99_ms": _ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1)),
        "errors": errors + (int(non_2xx.group(1)) if non_2xx else 0),
        "cpu_ms_per_request": 1000 * cpu / max(total, 1),
        "requests": total,
        "timeouts": int(timeouts.group(1)) if (timeouts := re.search(r"timeout (\d+)", output)) else 0,
    }


def model_only_poem_ms(repeat: int) -> float:
    """p50 of a 4×7 poem sampled by bench/inference.py's loop: the model alone, no HTTP.

    The module is the one the server runs (after its start-up optimization), so the ratio measures
    the HTTP path and nothing else.
    """
    import torch

    from app.models.optimize import optimize_for_serving
    from app.models.registry import probe_of
    from bench.inference import _poem_generator, _time

    model = load_torchscript(str(ROOT / "models" / "poem" / "model.pt"), map_location="cpu").eval()
    vocab = json.loads((ROOT / "models" / "poem" / "vocab.json").read_text(encoding="utf-8"))
    served, _ = optimize_for_serving("poem", model, probe_of(ROOT / "models" / "poem"), torch.device("cpu"))
    with torch.inference_mode():
        return _time(_poem_generator(served, vocab), repeat)[0]


TORCHSCRIPT = "dlserve BACKEND=torchscript"
MIN_AUTO_VS_TORCHSCRIPT = 1.15


def peers(python: str) -> list[Peer]:
    model = str(MODEL)
    return [
        Peer("plain FastAPI (no model)", [python, "-m", "bench.peer_servers.plain_fastapi", "--port", "{port}"],
             "/health/live", {}),
        Peer("naive FastAPI", [python, "-m", "bench.peer_servers.naive_fastapi", "--port", "{port}", "--model", model],
             "/health", {}),
        Peer("LitServe", [python, "-m", "bench.peer_servers.litserve_digit", "--port", "{port}", "--model", model],
             "/health", {}),
        Peer("dlserve", [python, "-m", "app"], "/health/ready", {"HOST": "127.0.0.1"}),
        Peer(TORCHSCRIPT, [python, "-m", "app"], "/health/ready", {"HOST": "127.0.0.1", "BACKEND": "torchscript"}),
    ]  # fmt: skip


def format_table(results: list[Result]) -> str:
    lines = ["| server | request | connections | req/s | p50 ms | p99 ms | errors | server CPU ms/request |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    lines += [
        f"| {r.server} | {r.request} | {r.connections} | {r.requests_per_s:.0f} | {r.p50_ms:.1f} | {r.p99_ms:.1f} "
        f"| {r.errors} | {r.cpu_ms_per_request:.2f} |"
        for r in results
    ]
    return "\n".join(lines)


def check(results: list[Result], poem_ms: float, model_poem_ms: float, ready_s: float, rss: float) -> list[str]:
    def at64(server: str, request: str) -> Result:
        return next(r for r in results if r.server == server and r.request == request and r.connections == 64)

    json_path, litserve = at64("dlserve", "JSON digit"), at64("LitServe", "JSON digit")
    torchscript = at64(TORCHSCRIPT, "JSON digit")
    binary, live, plain_get = (
        at64("dlserve", "binary digit"),
        at64("dlserve", "GET /health/live"),
        at64("plain FastAPI (no model)", "GET /health/live"),
    )
    rows = [
        ("dlserve JSON ÷ LitServe, req/s", json_path.requests_per_s / litserve.requests_per_s, MIN_VS_LITSERVE, True),
        ("dlserve JSON p99 ÷ p50", json_path.p99_ms / json_path.p50_ms, MAX_P99_OVER_P50, False),
        ("dlserve JSON errors", json_path.errors, 0, False),
        ("dlserve JSON, BACKEND=auto ÷ torchscript, req/s", json_path.requests_per_s / torchscript.requests_per_s,
         MIN_AUTO_VS_TORCHSCRIPT, True),
        ("dlserve JSON, BACKEND=auto ÷ torchscript, server CPU per request",
         json_path.cpu_ms_per_request / torchscript.cpu_ms_per_request, 1.0, False),
        ("GET /health/live ÷ plain FastAPI GET", live.requests_per_s / plain_get.requests_per_s, MIN_LIVE_VS_PLAIN,
         True),
        ("binary ÷ JSON, req/s", binary.requests_per_s / json_path.requests_per_s, MIN_BINARY_VS_JSON, True),
        ("binary ÷ JSON, server CPU per request", binary.cpu_ms_per_request / json_path.cpu_ms_per_request, 1.0,
         False),
        ("poem 4×7 over HTTP ÷ model alone, p50", poem_ms / model_poem_ms, MAX_POEM_OVER_MODEL, False),
        ("seconds to ready", ready_s, MAX_READY_S, False),
        ("resident memory, all models, MB", rss, MAX_RSS_MB, False),
    ]  # fmt: skip
    lines = ["| target (64 connections) | measured | wanted | result |", "|---|---:|---:|---|"]
    for name, value, bound, at_least in rows:
        passed = value >= bound if at_least else value <= bound
        lines.append(f"| {name} | {value:.2f} | {'≥' if at_least else '≤'} {bound} | {'PASS' if passed else 'FAIL'} |")
    return lines


def missing_tools() -> list[str]:
    missing = []
    if shutil.which("wrk") is None:
        missing.append("wrk (Debian: apt-get install wrk)")
    try:
        import litserve  # noqa: F401
    except ImportError:
        missing.append("litserve (pip install -e '.[bench]', or make bench-peers)")
    return missing


# `--sweep`: what each setting a user might turn does to dlserve's JSON digit throughput here.
SWEEP = {
    "defaults": {},
    "WORKERS=2": {"WORKERS": "2"},
    "TORCH_THREADS=1": {"TORCH_THREADS": "1"},
    "MAX_BATCH_SIZE=16": {"MAX_BATCH_SIZE": "16"},
    "MAX_BATCH_SIZE=64": {"MAX_BATCH_SIZE": "64"},
    "MAX_WAIT_MS=5": {"MAX_WAIT_MS": "5"},
    "BATCHING=false": {"BATCHING": "false"},
    "OPTIMIZE_MODELS=false": {"OPTIMIZE_MODELS": "false"},
    "LOG_LEVEL=warning": {"LOG_LEVEL": "warning"},
}


def sweep(seconds: int, warmup: int, folder: Path) -> None:
    script = wrk_script(folder, "json", json.dumps({"pixels": DIGIT_PIXELS}).encode(), "application/json")
    print("| dlserve setting | req/s at 64 connections | p50 ms | p99 ms | errors | vs defaults |")
    print("|---|---:|---:|---:|---:|---:|")
    baseline = None
    for label, env in SWEEP.items():
        peer = Peer(f"dlserve {label}", [sys.executable, "-m", "app"], "/health/ready", {"HOST": "127.0.0.1", **env})
        print(f"… {label}", file=sys.stderr, flush=True)
        with running(peer, folder) as (process, port, _):
            run_wrk(port, "/predict/digit", script, 64, warmup, process.pid)
            numbers = run_wrk(port, "/predict/digit", script, 64, seconds, process.pid)
        baseline = baseline or numbers["requests_per_s"]
        print(f"| {label} | {numbers['requests_per_s']:.0f} | {numbers['p50_ms']:.1f} | {numbers['p99_ms']:.1f} "
              f"| {numbers['errors']} | {numbers['requests_per_s'] / baseline:.2f}× |", flush=True)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="each wrk run (default 10)")
    parser.add_argument("--warmup", type=int, default=3, help="wrk warm-up before measuring each server")
    parser.add_argument("--sweep", action="store_true", help="instead: dlserve alone under each setting in SWEEP")
    args = parser.parse_args(argv)
    if missing := missing_tools():
        print("missing: " + "; ".join(missing), file=sys.stderr)
        return 2
    if args.sweep:
        with tempfile.TemporaryDirectory() as tmp:
            sweep(args.seconds, args.warmup, Path(tmp))
        return 0
    digit_json = json.dumps({"pixels": DIGIT_PIXELS}).encode()
    digit_bytes = np.asarray(DIGIT_PIXELS, dtype=np.uint8).tobytes()
    results: list[Result] = []
    extras: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        scripts = {
            "JSON digit": wrk_script(folder, "json", digit_json, "application/json"),
            "binary digit": wrk_script(folder, "binary", digit_bytes, "application/octet-stream"),
            "GET /health/live": wrk_script(folder, "get", None, ""),
            "poem": wrk_script(folder, "poem", json.dumps(POEM_BODY).encode(), "application/json"),
        }
        for peer in peers(sys.executable):
            print(f"… {peer.name}", file=sys.stderr, flush=True)
            with running(peer, folder) as (process, port, ready_s):
                dlserve = peer.name == "dlserve"
                predict = "/predict/digit" if peer.name.startswith("dlserve") else "/predict"
                runs = [("JSON digit", predict, (64,) if peer.name == TORCHSCRIPT else CONNECTIONS)]
                if dlserve:
                    runs += [("binary digit", predict, CONNECTIONS), ("GET /health/live", "/health/live", (64,))]
                elif peer.name.startswith("plain"):
                    runs += [("GET /health/live", "/health/live", (64,))]
                run_wrk(port, predict, scripts["JSON digit"], 64, args.warmup, process.pid)  # warm-up, not kept
                for request, path, levels in runs:
                    for connections in levels:
                        numbers = run_wrk(port, path, scripts[request], connections, args.seconds, process.pid)
                        results.append(Result(peer.name, request, connections, **numbers))
                if dlserve:
                    poem = run_wrk(port, "/generate/poem", scripts["poem"], 1, args.seconds, process.pid)
                    extras |= {"ready_s": ready_s, "rss_mb": rss_mb(process.pid), "poem_ms": poem["p50_ms"]}
                    results.append(Result(peer.name, "poem 4×7", 1, **poem))
    extras["model_poem_ms"] = model_only_poem_ms(repeat=30)
    import torch

    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{torch.get_num_threads()} torch threads; wrk -t1, {args.seconds:.0f} s per run\n")  # fmt: skip
    print(format_table(results))
    print(f"\npoem 4×7, model alone as served (bench/inference.py's loop, p50): {extras['model_poem_ms']:.1f} ms; "
          f"through POST /generate/poem: {extras['poem_ms']:.1f} ms\n")  # fmt: skip
    lines = check(results, extras["poem_ms"], extras["model_poem_ms"], extras["ready_s"], extras["rss_mb"])
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
