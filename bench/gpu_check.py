"""GPU proof, for a machine with CUDA: `python -m bench.gpu_check` (after `make data`).

1. Loads all four models on CUDA and on the CPU the way the service does (checksum-verified
   model.pt, then the start-up optimization with its own parity check) and compares them on
   1,000 real test items each: digits and clothes from the test CSVs (same labels, probabilities
   within 1e-3), houses from Kaggle's test.csv (prices within 0.1 %), and 1,000 next-character
   distributions of real poems (same most likely character, probabilities within 1e-3).
2. Model-only latency on CUDA at batch 1 and 64 (synchronized), and a 4×7 poem.
3. HTTP requests/s of POST /predict/digit at 64 concurrent clients with DEVICE=cuda, batching
   on and off (bench/serve.py's closed-loop client: wrk may not be installed on a GPU host).

Prints Markdown tables; exits 1 when a parity check fails, 2 when there is no GPU. CI never runs it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from app.models.optimize import Probe, optimize_for_serving
from app.models.registry import LoadedModel, load_model
from app.predictors.tabular import TabularRegressor
from bench.inference import _poem_generator
from bench.serve import run_load, running_server
from training.data.images import read_image_csv

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"
DATA = ROOT / "data"
ITEMS = 1000
PROBABILITY_TOLERANCE = 1e-3
PRICE_TOLERANCE = 1e-3  # relative
IMAGE_TESTS = {
    "digit": DATA / "digit-recognizer" / "test.csv",
    "fashion": DATA / "fashion-mnist" / "fashion-mnist_test.csv",
}


def load(name: str, device: torch.device) -> LoadedModel:
    loaded = load_model(name, MODELS / name, device)
    loaded.module, loaded.optimized = optimize_for_serving(name, loaded.module, Probe.of(loaded), device)
    return loaded


def image_parity(name: str, cpu: LoadedModel, gpu: LoadedModel) -> tuple[str, bool]:
    images, _ = read_image_csv(IMAGE_TESTS[name], require_label=True)
    x = torch.from_numpy(images[:ITEMS].astype(np.float32)).unsqueeze(1)
    with torch.inference_mode():
        want = torch.softmax(cpu.module(x).float(), 1)
        got = torch.softmax(gpu.module(x.cuda()).float(), 1).cpu()
    same = int((want.argmax(1) == got.argmax(1)).sum())
    gap = float((want - got).abs().max())
    return f"{same}/{ITEMS} labels equal, max probability gap {gap:.1e}", same == ITEMS and gap <= PROBABILITY_TOLERANCE


def house_parity(cpu: LoadedModel, gpu: LoadedModel) -> tuple[str, bool]:
    rows = pd.read_csv(DATA / "house-prices" / "test.csv").head(ITEMS)
    records = rows.astype(object).where(rows.notna(), None).to_dict("records")
    cpu_pricer, gpu_pricer = (TabularRegressor(m.module, m.side, m.device, transform="exp") for m in (cpu, gpu))
    features = cpu_pricer.features(records)
    want, got = np.array(cpu_pricer.run_batch(features)), np.array(gpu_pricer.run_batch(features))
    gap = float(np.max(np.abs(got - want) / want))
    return f"{len(want)} prices, max relative gap {gap:.1e}", gap <= PRICE_TOLERANCE


def poem_parity(cpu: LoadedModel, gpu: LoadedModel) -> tuple[str, bool]:
    index = {token: i for i, token in enumerate(cpu.side["tokens"])}
    text = "".join((DATA / "poems" / "poems.txt").read_text(encoding="utf-8").split())
    ids = torch.tensor([[index[c] for c in text if c in index][:ITEMS]])
    with torch.inference_mode():
        want, _ = cpu.module(ids, cpu.module.initial_hidden(1))
        got, _ = gpu.module(ids.cuda(), gpu.module.initial_hidden(1))
    want, got = torch.softmax(want[0].float(), -1), torch.softmax(got[0].float().cpu(), -1)
    same = int((want.argmax(-1) == got.argmax(-1)).sum())
    gap = float((want - got).abs().max())
    return (f"{same}/{ids.shape[1]} next characters equal, max probability gap {gap:.1e}",
            same == ids.shape[1] and gap <= PROBABILITY_TOLERANCE)  # fmt: skip


def cuda_ms(fn: Callable[[], object], repeat: int = 100) -> float:
    """p50 milliseconds of fn on CUDA, each call synchronized."""
    for _ in range(10):
        fn()
    torch.cuda.synchronize()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def latency_rows(gpu: dict[str, LoadedModel]) -> list[str]:
    rows = []
    with torch.inference_mode():
        for name in ("digit", "fashion", "house"):
            shape = gpu[name].meta["input"]["shape"][1:]
            for n in (1, 64):
                x = torch.rand(n, *shape, device="cuda") * 255
                rows.append(f"| {name} | batch {n} | {cuda_ms(lambda m=gpu[name].module, x=x: m(x)):.3f} |")
        poem = _poem_generator(gpu["poem"].module, gpu["poem"].side, device="cuda")  # bench/inference.py's loop
        rows.append(f"| poem | 4×7 poem (32 steps) | {cuda_ms(poem, repeat=20):.2f} |")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="each HTTP load run")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("no CUDA device: this check needs a GPU", file=sys.stderr)
        return 2
    print(f"device: {torch.cuda.get_device_name(0)}, torch {torch.__version__}, CUDA {torch.version.cuda}\n")
    cpu_device, gpu_device = torch.device("cpu"), torch.device("cuda")
    cpu = {name: load(name, cpu_device) for name in ("digit", "fashion", "house", "poem")}
    gpu = {name: load(name, gpu_device) for name in ("digit", "fashion", "house", "poem")}
    checks = {name: image_parity(name, cpu[name], gpu[name]) for name in IMAGE_TESTS}
    checks["house"] = house_parity(cpu["house"], gpu["house"])
    checks["poem"] = poem_parity(cpu["poem"], gpu["poem"])
    print("| model | optimized on CUDA | CUDA vs CPU on real test items | result |\n|---|---|---|---|")
    for name, (text, passed) in checks.items():
        print(f"| {name} | {gpu[name].optimized} | {text} | {'PASS' if passed else 'FAIL'} |")
    print("\n| model | call | CUDA p50 ms |\n|---|---|---:|")
    print("\n".join(latency_rows(gpu)))
    print("\n| POST /predict/digit, DEVICE=cuda | clients | requests/s | p50 ms | p99 ms | errors |")
    print("|---|---:|---:|---:|---:|---|")
    for batching in (True, False):
        with running_server(MODELS, "cuda", batching, torch_threads=0) as server:
            run = f"batching {'on' if batching else 'off'}"
            run_load(server.port, 64, 2.0, run)  # warm-up
            row = run_load(server.port, 64, args.seconds, run)
        print(f"| {run} | 64 | {row.requests_per_s:.0f} | {row.p50_ms:.1f} | {row.p99_ms:.1f} | "
              f"{json.dumps(row.errors) if row.errors else 0} |")  # fmt: skip
    return 0 if all(passed for _, passed in checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
