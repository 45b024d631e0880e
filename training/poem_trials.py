"""`python -m training.poem_trials`: the short trials behind the poem recipe's data and head choices.

Each trial trains the default recipe's model for the same short budget (8 minutes unless --budget
says otherwise) and prints its validation perplexity and its last training loss (a training loss
far under the validation loss is a model learning its poems by heart):

- `tang`: the Tang training poems alone;
- `song-mixed`: the Song poems mixed in for the whole budget;
- `song-then-tang` (the recipe): Song poems mixed in for 80 % of it, then the Tang poems alone;
- `full-softmax`: the recipe's data with the plain 6,600-way softmax in float32, for the speed of each.

Nothing is saved; the numbers are what training/poem.py's comments and the README quote.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import replace
from pathlib import Path

import torch

from app.core.device import resolve_device
from training.data.loaders import load_poems
from training.poem import CONFIGS, song_training_poems, train
from training.poem_model import Vocab

DEFAULT = CONFIGS["default"]
TRIALS = {
    "tang": replace(DEFAULT, song_poems=False),
    "song-mixed": replace(DEFAULT, song_until=1.0),
    "song-then-tang": DEFAULT,
    "full-softmax": replace(DEFAULT, adaptive_cutoffs=None, bf16=False),
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=480.0, help="seconds of training per trial")
    parser.add_argument("--only", nargs="+", choices=list(TRIALS), default=list(TRIALS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="cpu")
    parser.add_argument("--data-dir", type=Path, default=Path("data"))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    splits = load_poems(args.data_dir)
    vocab = Vocab.build(splits.train)
    song = song_training_poems(args.data_dir, splits, vocab)
    print(f"\n| trial | validation perplexity after {args.budget / 60:.0f} min | last train loss | val loss | "
          "train tokens/s |\n|---|---:|---:|---:|---:|")  # fmt: skip
    for name in args.only:
        cfg = replace(TRIALS[name], budget_s=args.budget, eval_every_s=args.budget / 6)
        started = time.perf_counter()
        _, history = train(cfg, splits.train, splits.val, vocab, device, 0, song if cfg.song_poems else None)
        last = history.rows[-1]
        rate = f"{last['tokens_seen'] / last['elapsed_s']:,.0f}"
        print(f"| {name} | {math.exp(last['val_loss']):.1f} | {last['train_loss']:.3f} | {last['val_loss']:.3f} | "
              f"{rate} |  ({time.perf_counter() - started:.0f} s)", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
