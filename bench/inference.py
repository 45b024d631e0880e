"""`make bench`: raw TorchScript inference latency of the committed models on this machine.

Measures what a request costs the model itself, before any HTTP: per-call latency at batch 1
and batch 64 for the classifiers and the house regressor, and the time to sample a 4×7 poem
(32 characters, one step each) — for the committed model.pt and for the module the service
actually runs after its start-up optimization (app/models/optimize.py; the same as committed
where that policy leaves a model alone). Prints a Markdown table; the README's numbers come from it.
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
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}\n")
    print("| model | call | committed p50 ms | p99 ms | as served p50 ms | p99 ms | speed-up (p50) |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name in ("digit", "fashion", "house", "poem"):
        model = load_torchscript(str(args.models_dir / name / "model.pt"), map_location="cpu").eval()
        meta = json.loads((args.models_dir / name / "meta.json").read_text(encoding="utf-8"))
        vocab = (
            json.loads((args.models_dir / name / "vocab.json").read_text(encoding="utf-8")) if name == "poem" else None
        )
        served, _ = optimize_for_serving(name, model, vocab, torch.device("cpu"))
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


if __name__ == "__main__":
    main()
