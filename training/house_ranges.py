"""`python -m training.house_ranges`: the plausible range of every numeric house field, from the data.

For each numeric Kaggle column it records the smallest and largest value in train.csv (the rows
the model learned from) and a plausible range a request must stay inside: areas, counts and
money from 0 to MARGIN times the largest value seen; years, months and ratings keep their
natural bounds (Kaggle's own test.csv has a garage built in 2207 — a typo the service must still
answer). The server refuses a value outside the plausible range (422) and warns about one
outside the training data's range. Written to training/house_ranges.json, committed.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pandas as pd

from training.house_columns import COLUMNS, NATURAL_BOUNDS, RANGES_FILE

MARGIN = 4  # "a few times the largest seen"
DEFAULT_TRAIN = Path("data") / "house-prices" / "train.csv"


def compute_ranges(train: pd.DataFrame) -> dict[str, dict[str, float]]:
    ranges = {}
    for name, kind, _ in COLUMNS:
        if kind in ("text", "code"):
            continue
        values = pd.to_numeric(train[name], errors="raise").dropna()
        low, high = float(values.min()), float(values.max())
        if kind in NATURAL_BOUNDS:
            allowed_low, allowed_high = NATURAL_BOUNDS[kind]
        else:  # area, count, money: non-negative, up to a few times the largest seen
            allowed_low, allowed_high = 0.0, float(math.ceil(max(high, 1.0) * MARGIN))
        ranges[name] = {"min": allowed_low, "max": allowed_high, "seen_min": low, "seen_max": high}
    return ranges


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=Path, default=DEFAULT_TRAIN)
    args = parser.parse_args(argv)
    ranges = compute_ranges(pd.read_csv(args.train))
    RANGES_FILE.write_text(json.dumps(ranges, indent=1) + "\n", encoding="utf-8")
    print(f"{len(ranges)} numeric fields → {RANGES_FILE}")


if __name__ == "__main__":
    main()
