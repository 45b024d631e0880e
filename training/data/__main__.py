"""`python -m training.data`: fetch and write the datasets (skipping what is already there).

python -m training.data                 # all of them
python -m training.data --only digit poem
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

from training.data.house import build_house
from training.data.idx import IdxFormatError
from training.data.images import CsvFormatError
from training.data.mnist_like import DIGITS, FASHION, build_image_dataset
from training.data.poems import SONG, build_poems
from training.data.sources import SourceUnavailable

BUILDERS: dict[str, tuple[str, Callable[[Path, Path], dict[str, int]]]] = {
    "digit": (DIGITS.name, lambda d, c: build_image_dataset(DIGITS, d, c)),
    "fashion": (FASHION.name, lambda d, c: build_image_dataset(FASHION, d, c)),
    "house": ("house-prices", build_house),
    "poem": ("poems", build_poems),
    "poem-song": (SONG.dataset, lambda d, c: build_poems(d, c, SONG)),  # more poems for the poem model to learn from
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.data", description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("data"), help="where the datasets go (default: data)")
    parser.add_argument(
        "--cache-dir", type=Path, default=None, help="where downloaded packages are kept (default: DATA_DIR/.cache)"
    )
    parser.add_argument("--only", nargs="+", choices=sorted(BUILDERS), help="build only these datasets")
    args = parser.parse_args(argv)
    cache = args.cache_dir or args.data_dir / ".cache"
    started = time.perf_counter()
    for key in args.only or list(BUILDERS):
        folder, build = BUILDERS[key]
        print(f"[{key}] {args.data_dir / folder}", flush=True)
        step = time.perf_counter()
        try:
            rows = build(args.data_dir, cache)
        except (SourceUnavailable, IdxFormatError, CsvFormatError, FileNotFoundError) as exc:
            print(f"error: {key}: {exc}", file=sys.stderr)
            return 1
        for name, count in rows.items():
            size = (args.data_dir / folder / name).stat().st_size
            print(f"  {name}: {count:,} rows, {size / 1e6:,.1f} MB")
        print(f"  ok ({time.perf_counter() - step:.1f} s)")
    print(f"all datasets ready in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
