"""`make bench-grpc`: digit images per second through the gRPC door against the REST raw-bytes door, in one run.

The real service (`python -m app`, default settings but for MAX_QUEUE_SIZE: 64 calls of 32 images are the
default bound exactly, and calls h2load abandons at a deadline stay queued until reached) is started once;
both doors are driven by the same load generator, h2load (nghttp2's, a C program: Debian's
nghttp2-client), with the same real MNIST test images and the same number of calls in flight (64):

  gRPC  ModelInfer, the pixels as a UINT8 raw_input_contents tensor, 4 HTTP/2 connections × 16 streams
        (a gRPC client multiplexes its calls over few connections);
  REST  POST /predict/digit, application/octet-stream N×784 bytes, 64 HTTP/1.1 connections;

at 1 image per call and 32 per call, each for --seconds, --rounds times alternating. Every gRPC answer is
checked to be OK from the server's own dlserve_grpc_requests_total (calls h2load leaves unfinished at
its deadline count as CANCELLED), every REST one a 2xx. Prints images/s, server CPU per 1,000 images and
the ratios gRPC ÷ REST against the targets (≥ 1.0 at 1 image, ≥ 1.2 at 32). Absolute numbers move
2–3× between machines of this kind; compare the ratios within one run.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import grpc
import httpx
import numpy as np

from app.api.grpc_v2 import grpc_predict_v2_pb2 as pb
from app.api.grpc_v2 import grpc_predict_v2_pb2_grpc as pb_grpc
from bench.peers import Peer, free_port, running, tree_cpu_seconds
from training.data.images import read_image_csv

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "data" / "digit-recognizer" / "test.csv"
IN_FLIGHT = 64
GRPC_CONNECTIONS = 4
TARGETS = {1: 1.0, 32: 1.2}
INFER = "/inference.GRPCInferenceService/ModelInfer"


def grpc_body(images: np.ndarray) -> bytes:
    """One ModelInfer request as gRPC frames it on the wire: a 0 byte (uncompressed), its length, the message."""
    tensor = pb.ModelInferRequest.InferInputTensor(name="pixels", datatype="UINT8", shape=[len(images), 784])
    message = pb.ModelInferRequest(model_name="digit", inputs=[tensor], raw_input_contents=[images.tobytes()])
    payload = message.SerializeToString()
    return b"\0" + struct.pack(">I", len(payload)) + payload


def h2load(url: str, body: Path, headers: dict[str, str], *, http1: bool, seconds: int) -> dict[str, float]:
    shape = ["--h1", f"-c{IN_FLIGHT}"] if http1 else [f"-c{GRPC_CONNECTIONS}", f"-m{IN_FLIGHT // GRPC_CONNECTIONS}"]
    command = ["h2load", *shape, f"-D{seconds}", "-d", str(body)]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    done = re.search(r"(\d+) succeeded, (\d+) failed, (\d+) errored", output)
    statuses = re.search(r"status codes: \d+ 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", output)
    return {"calls_per_s": float(re.search(r"finished in [\d.]+s, ([\d.]+) req/s", output)[1]),
            "succeeded": int(done[1]), "failed": int(done[2]) + int(done[3]),
            "not_2xx": sum(int(n) for n in statuses.groups())}  # fmt: skip


def grpc_codes(url: str) -> dict[str, float]:
    metrics = httpx.get(f"{url}/metrics", timeout=30).text
    found = re.findall(r'dlserve_grpc_requests_total\{code="(\w+)",method="ModelInfer"\} ([\d.]+)', metrics)
    return {code: float(n) for code, n in found}


def check_same_labels(url: str, grpc_port: int, batch: np.ndarray) -> None:
    """The bodies measured answer the same labels through both doors (else the comparison means nothing)."""
    answers = httpx.post(f"{url}/predict/digit", content=batch.tobytes(),
                         headers={"Content-Type": "application/octet-stream"}, timeout=60).json()  # fmt: skip
    rest = [a["label"] for a in (answers if isinstance(answers, list) else [answers])]
    with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
        request = pb.ModelInferRequest.FromString(grpc_body(batch)[5:])
        response = pb_grpc.GRPCInferenceServiceStub(channel).ModelInfer(request, timeout=60)
    labels = dict(zip((t.name for t in response.outputs), response.raw_output_contents, strict=True))["label"]
    if np.frombuffer(labels, dtype="<i8").tolist() != rest:
        raise RuntimeError(f"gRPC and REST disagree on {len(batch)} image(s)")


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown CPU")  # fmt: skip
    return f"{cpu}, {len(os.sched_getaffinity(0))} cores"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="per door, batch size and round (default 10)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds (default 2)")
    args = parser.parse_args(argv)
    if shutil.which("h2load") is None:
        print("needs h2load (Debian: apt-get install nghttp2-client; make bench-grpc installs it)", file=sys.stderr)
        return 2
    images, _ = read_image_csv(IMAGES, require_label=True)
    grpc_port = free_port()
    peer = Peer("dlserve", [sys.executable, "-m", "app"], "/health/ready",
                {"HOST": "127.0.0.1", "LOG_LEVEL": "warning", "GRPC_PORT": str(grpc_port),
                 "MAX_QUEUE_SIZE": str(4 * IN_FLIGHT * max(TARGETS))})  # fmt: skip
    rows = []
    with tempfile.TemporaryDirectory() as folder, running(peer, Path(folder)) as (process, port, _):
        url = f"http://127.0.0.1:{port}"
        for size in TARGETS:
            batch = images[:size].reshape(size, 784).astype(np.uint8)
            (Path(folder) / f"grpc{size}").write_bytes(grpc_body(batch))
            (Path(folder) / f"rest{size}").write_bytes(batch.tobytes())
            check_same_labels(url, grpc_port, batch)
            totals = {"gRPC": [0.0, 0.0, 0], "REST": [0.0, 0.0, 0]}  # calls/s summed, CPU seconds, calls
            for _ in range(args.rounds):
                for door in totals:
                    before_cpu, before_codes = tree_cpu_seconds(process.pid), grpc_codes(url)
                    if door == "gRPC":
                        run = h2load(f"http://127.0.0.1:{grpc_port}{INFER}", Path(folder) / f"grpc{size}",
                                     {"content-type": "application/grpc", "te": "trailers"}, http1=False,
                                     seconds=args.seconds)  # fmt: skip
                        codes = {k: v - before_codes.get(k, 0) for k, v in grpc_codes(url).items()}
                        wrong = {k: v for k, v in codes.items() if k not in ("OK", "CANCELLED") and v}
                        if wrong or codes.get("OK", 0) < run["succeeded"]:
                            raise RuntimeError(f"gRPC calls that were not OK: {codes}")
                    else:
                        run = h2load(f"{url}/predict/digit", Path(folder) / f"rest{size}",
                                     {"content-type": "application/octet-stream"}, http1=True,
                                     seconds=args.seconds)  # fmt: skip
                        if run["not_2xx"] or run["failed"]:
                            raise RuntimeError(f"REST calls that failed: {run}")
                    totals[door][0] += run["calls_per_s"]
                    totals[door][1] += tree_cpu_seconds(process.pid) - before_cpu
                    totals[door][2] += run["succeeded"]
            for door, (calls_per_s, cpu, calls) in totals.items():
                rate = calls_per_s / args.rounds * size
                rows.append((door, size, rate, 1000 * cpu / max(calls * size, 1)))
    print(f"\nmachine: {machine()}, {args.rounds} rounds "
          f"of {args.seconds} s, {IN_FLIGHT} calls in flight, h2load")  # fmt: skip
    print(f"{'door':<6}{'images/call':>12}{'images/s':>12}{'CPU ms / 1k images':>20}")
    for door, size, rate, cpu in rows:
        print(f"{door:<6}{size:>12}{rate:>12,.0f}{cpu:>20.1f}")
    by = {(door, size): rate for door, size, rate, _ in rows}
    for size, target in TARGETS.items():
        ratio = by[("gRPC", size)] / by[("REST", size)]
        verdict = "PASS" if ratio >= target else "FAIL"
        print(f"gRPC ÷ REST raw bytes, {size:>2} image(s) per call: {ratio:.2f}x (target ≥ {target}) {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
