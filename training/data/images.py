"""MNIST-style image datasets (digits and Fashion-MNIST) as Kaggle-format CSV files.

Kaggle's digit files name the pixel columns `pixel0..pixel783`, its Fashion-MNIST files
`pixel1..pixel784`; readers accept either so that a user's own Kaggle download works too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from app.predictors.image_input import N_PIXELS, pixel_columns


class CsvFormatError(ValueError):
    """A CSV file does not have the columns or values its dataset requires."""


def write_image_csv(path: Path, images: np.ndarray, labels: np.ndarray | None, *, first_pixel: int) -> int:
    """Write images (N×28×28 uint8) and optional labels as `label,pixel…` rows; returns the row count."""
    flat = images.reshape(len(images), N_PIXELS)
    header = (["label"] if labels is not None else []) + pixel_columns(first_pixel)
    table = np.column_stack([labels, flat]) if labels is not None else flat
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".part")
    chunk = 5000
    with tmp.open("w", encoding="ascii", newline="\n") as fh:
        fh.write(",".join(header) + "\n")
        for start in tqdm(range(0, len(table), chunk), desc=f"  writing {path.name}", unit="chunk", leave=False):
            block = table[start : start + chunk]
            fh.write("\n".join(",".join(map(str, row)) for row in block.tolist()) + "\n")
    tmp.replace(path)  # never leave a half-written CSV under the final name
    return len(table)


def read_image_csv(path: Path, *, require_label: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """Read a Kaggle-format image CSV into (images N×28×28 uint8, labels int64 or None).

    Accepts `pixel0..pixel783` and `pixel1..pixel784`, with or without a `label` column.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; run `make data` first")
    header = pd.read_csv(path, nrows=0).columns.tolist()
    pixels = [c for c in header if c != "label"]
    if pixels not in (pixel_columns(0), pixel_columns(1)):
        raise CsvFormatError(
            f"{path}: expected an optional `label` column and 784 pixel columns named pixel0..pixel783 "
            f"or pixel1..pixel784, got {len(header)} columns starting {header[:3]}"
        )
    if require_label and "label" not in header:
        raise CsvFormatError(f"{path}: has no `label` column")
    try:
        frame = pd.read_csv(path, dtype=np.int64)
    except ValueError as exc:  # a non-integer or empty cell (pandas' ParserError is a ValueError too)
        raise CsvFormatError(f"{path}: every cell must be an integer ({exc})") from exc
    values = frame[pixels].to_numpy()
    if values.size and (values.min() < 0 or values.max() > 255):
        raise CsvFormatError(f"{path}: pixel values must lie in 0–255, found {values.min()}–{values.max()}")
    labels = None
    if "label" in header:
        labels = frame["label"].to_numpy()
        if labels.size and (labels.min() < 0 or labels.max() > 9):
            raise CsvFormatError(f"{path}: labels must lie in 0–9, found {labels.min()}–{labels.max()}")
    return values.astype(np.uint8).reshape(-1, 28, 28), labels


def verify_image_csv(path: Path, *, expected_rows: int | None) -> int:
    """Re-read a written CSV and check row count, columns and value ranges; returns the row count."""
    images, labels = read_image_csv(path, require_label=True)
    if expected_rows is not None and len(images) != expected_rows:
        raise CsvFormatError(f"{path}: expected {expected_rows} rows, found {len(images)}")
    counts = np.bincount(labels, minlength=10)
    if (counts == 0).any():
        raise CsvFormatError(f"{path}: classes {np.flatnonzero(counts == 0).tolist()} have no rows")
    return len(images)
