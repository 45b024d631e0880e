"""`make bench`: raw TorchScript inference latency of the committed models on this machine.

Measures what a request costs the model itself, before any HTTP: per-call latency at batch 1
and batch 64 for the classifiers and the house regressor, and the time to sample a 4×7 poem
(32 characters, one step each) — for the committed model.pt and for the module the service
actually runs after its start-up optimization (app/models/optimize.py; the same as committed
where that policy leaves a model alone). Prints a Markdown table; the README's numbers come from it.

Then every backend side by side (app/models/backends.py), for the CNNs: images per second at batch
1, 32 and 64 with 1 and 2 threads, for TorchScript as committed, TorchScript as served (optimized),
ONNX Runtime (model.onnx), torch.export (model.pt2) and ONNX Runtime at 8 bits (model.int8.onnx), each
the best of ROUNDS interleaved rounds, with the largest probability difference from model.pt; and the
ratios BACKEND=auto is held to at full precision: ONNX Runtime ÷ TorchScript as served ≥ 1.4× at batch 1
on 1 thread and ≥ 1.2× at batch 32 on 2 threads.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import torch

from app.models.optimize import optimize_for_serving
from app.models.registry import load_prepared, probe_of
from app.models.torchscript import load_torchscript


def _time(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(p50, p99) wall time in milliseconds over `repeat` calls, after warm-up calls."""
    for _ in range(3):
        fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(0.99 * len(samples)))]


def _poem_generator(model: torch.jit.ScriptModule, vocab: dict, device: str = "cpu") -> Callable[[], str]:
    generator = torch.Generator(device=device).manual_seed(0)
    tokens = vocab["tokens"]

    def generate() -> str:
        ids = [vocab["specials"]["<bos>"], tokens.index("春")]
        logits, hidden = model(torch.tensor([ids], device=device), model.initial_hidden(1))
        for _ in range(31):
            nxt = int(torch.multinomial(torch.softmax(logits[0, -1] / 0.8, -1), 1, generator=generator))
            ids.append(nxt)
            logits, hidden = model(torch.tensor([[nxt]], device=device), hidden)
        return "".join(tokens[i] for i in ids[1:])

    return generate


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", type=Path, default=Path("models"))
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--backends-only", action="store_true", help="only the table of backends")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if not args.backends_only:
        latency_table(args)
    passed = backends_table(args.models_dir)
    raise SystemExit(0 if passed else 1)


def latency_table(args: argparse.Namespace) -> None:
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}\n")
    print("| model | call | committed p50 ms | p99 ms | as served p50 ms | p99 ms | speed-up (p50) |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name in ("digit", "fashion", "house", "poem"):
        model = load_torchscript(str(args.models_dir / name / "model.pt"), map_location="cpu").eval()
        meta = json.loads((args.models_dir / name / "meta.json").read_text(encoding="utf-8"))
        vocab = (
            json.loads((args.models_dir / name / "vocab.json").read_text(encoding="utf-8")) if name == "poem" else None
        )
        served, _ = optimize_for_serving(name, model, probe_of(args.models_dir / name), torch.device("cpu"))
        with torch.inference_mode():
            for label, calls in _calls(name, meta, vocab, model, served).items():
                repeat = args.repeat if name != "poem" else max(20, args.repeat // 10)
                (p50, p99), (served_p50, served_p99) = (_time(fn, repeat) for fn in calls)
                print(f"| {name} | {label} | {p50:.2f} | {p99:.2f} | {served_p50:.2f} | {served_p99:.2f} "
                      f"| {p50 / served_p50:.2f}× |", flush=True)  # fmt: skip


def _calls(name: str, meta: dict, vocab: dict | None, *models: torch.jit.ScriptModule) -> dict[str, list]:
    """{call label: [one callable per model]}, each model given the same input."""
    if name == "poem":
        return {"4×7 poem (32 sampled steps)": [_poem_generator(m, vocab) for m in models]}
    shape = meta["input"]["shape"][1:]
    inputs = {n: torch.rand(n, *shape) * 255 for n in (1, 64)}
    return {f"batch {n}": [partial(m, x) for m in models] for n, x in inputs.items()}


ROUNDS, BATCHES, THREADS = 3, (1, 32, 64), (1, 2)
MIN_BATCH1_GAIN, MIN_BATCH32_GAIN = 1.4, 1.2
BACKEND_LABELS = {"committed": "TorchScript as committed", "torchscript": "TorchScript as served (optimized)",
                  "onnxruntime": "ONNX Runtime (model.onnx)", "export": "torch.export (model.pt2)",
                  "int8": "ONNX Runtime int8 (model.int8.onnx)"}  # fmt: skip


def _images_per_s(module: Callable, x: torch.Tensor, seconds: float = 0.4) -> float:
    module(x)
    calls, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        module(x)
        calls += 1
    return calls * len(x) / elapsed


def backends_table(models_dir: Path) -> bool:
    """Prints images/s of every backend of the CNNs and the ratios auto is held to; True when they are met."""
    print(f"\n| model | backend | {' | '.join(f'{t} thr, b{b}' for t in THREADS for b in BATCHES)} | max prob diff |")
    print("|---|---|" + "---:|" * (len(THREADS) * len(BATCHES) + 1))
    checks = []
    for name in ("digit", "fashion"):
        speed: dict[tuple[str, int, int], float] = {}
        gaps: dict[str, float] = {}
        for threads in THREADS:
            torch.set_num_threads(threads)  # ONNX Runtime sessions take the count when they are made: load anew
            served = {label: load_prepared(name, models_dir, torch.device("cpu"), lambda _: None, optimize=True,
                                           backend=backend, precision=precision)
                      for label, backend, precision in (("torchscript", "torchscript", "fp32"),
                                                        ("onnxruntime", "onnxruntime", "fp32"),
                                                        ("export", "export", "fp32"),
                                                        ("int8", "onnxruntime", "int8"))}  # fmt: skip
            modules = {"committed": served["torchscript"].committed} | {b: m.module for b, m in served.items()}
            with torch.inference_mode():
                probe = torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 255
                want = torch.softmax(modules["committed"](probe), 1)
                for label, module in modules.items():
                    gaps[label] = float((torch.softmax(module(probe), 1) - want).abs().max())
                for batch in BATCHES:
                    x = probe[:batch].contiguous()
                    for _ in range(ROUNDS):  # interleaved: a slow moment of the machine hits every backend
                        for label, module in modules.items():
                            key = (label, threads, batch)
                            speed[key] = max(speed.get(key, 0.0), _images_per_s(module, x))
        for label in BACKEND_LABELS:
            cells = " | ".join(f"{speed[(label, t, b)]:,.0f}" for t in THREADS for b in BATCHES)
            print(f"| {name} | {BACKEND_LABELS[label]} | {cells} | {gaps[label]:.1e} |")
        batch1 = speed[("onnxruntime", 1, 1)] / speed[("torchscript", 1, 1)]
        batch32 = speed[("onnxruntime", 2, 32)] / speed[("torchscript", 2, 32)]
        checks += [(f"{name}: ONNX Runtime ÷ TorchScript as served, batch 1, 1 thread ≥ {MIN_BATCH1_GAIN}×", batch1,
                    batch1 >= MIN_BATCH1_GAIN),
                   (f"{name}: ONNX Runtime ÷ TorchScript as served, batch 32, 2 threads ≥ {MIN_BATCH32_GAIN}×",
                    batch32, batch32 >= MIN_BATCH32_GAIN)]  # fmt: skip
    print("\n| target | measured | result |\n|---|---:|---|")
    for target, ratio, passed in checks:
        print(f"| {target} | {ratio:.2f}× | {'PASS' if passed else 'FAIL'} |")
    return all(passed for *_, passed in checks)


if __name__ == "__main__":
    main()
