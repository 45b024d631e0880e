"""Dataset loaders for training and evaluation, with fixed, seeded validation splits.

The validation split is always carved from the training file; the test files stay untouched
for the final evaluation. Splits depend only on (row count, fraction, seed), so every script
and every run sees the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from training.data.house import DATASET as HOUSE_DIR
from training.data.images import read_image_csv
from training.data.mnist_like import DIGITS, FASHION, ImageDatasetSpec
from training.data.poems import DATASET as POEM_DIR
from training.data.poems import FILE_NAME as POEM_FILE
from training.data.poems import SONG, split_lines

DEFAULT_DATA_DIR = Path("data")
SPLIT_SEED = 0
HOUSE_SPLIT_SEED = 42  # the course's random_state, so our holdout numbers compare with its


@dataclass(frozen=True)
class ImageSplits:
    """Images as N×28×28 uint8 arrays (0–255) with int64 labels."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def split_indices(n: int, val_fraction: float, seed: int = SPLIT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """A seeded permutation of range(n) cut into (train, validation) index arrays."""
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    order = np.random.default_rng(seed).permutation(n)
    n_val = round(n * val_fraction)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def _load_images(spec: ImageDatasetSpec, data_dir: Path, val_fraction: float, seed: int) -> ImageSplits:
    folder = Path(data_dir) / spec.name
    x, y = read_image_csv(folder / spec.train_csv, require_label=True)
    x_test, y_test = read_image_csv(folder / spec.test_csv, require_label=True)
    train_idx, val_idx = split_indices(len(x), val_fraction, seed)
    assert y is not None and y_test is not None  # require_label guarantees labels
    return ImageSplits(x[train_idx], y[train_idx], x[val_idx], y[val_idx], x_test, y_test)


def load_digits(data_dir: Path = DEFAULT_DATA_DIR, val_fraction: float = 0.1, seed: int = SPLIT_SEED) -> ImageSplits:
    """MNIST digits: train/validation from train.csv, test from test.csv."""
    return _load_images(DIGITS, data_dir, val_fraction, seed)


def load_fashion(data_dir: Path = DEFAULT_DATA_DIR, val_fraction: float = 0.1, seed: int = SPLIT_SEED) -> ImageSplits:
    """Fashion-MNIST: train/validation from fashion-mnist_train.csv, test from fashion-mnist_test.csv."""
    return _load_images(FASHION, data_dir, val_fraction, seed)


@dataclass(frozen=True)
class HouseSplits:
    train: pd.DataFrame  # with SalePrice
    val: pd.DataFrame  # with SalePrice
    test: pd.DataFrame  # Kaggle's test.csv, no SalePrice
    full_train: pd.DataFrame  # all of train.csv, for cross-validation


def load_house(
    data_dir: Path = DEFAULT_DATA_DIR, val_fraction: float = 0.2, seed: int = HOUSE_SPLIT_SEED
) -> HouseSplits:
    """Kaggle House Prices: the course's 80/20 split of train.csv (random_state 42) plus test.csv."""
    folder = Path(data_dir) / HOUSE_DIR
    for name in ("train.csv", "test.csv"):
        if not (folder / name).exists():
            raise FileNotFoundError(f"{folder / name} does not exist; run `make data` first")
    full = pd.read_csv(folder / "train.csv")
    test = pd.read_csv(folder / "test.csv")
    train, val = train_test_split(full, test_size=val_fraction, random_state=seed)
    return HouseSplits(train.reset_index(drop=True), val.reset_index(drop=True), test, full)


@dataclass(frozen=True)
class PoemSplits:
    train: list[str]
    val: list[str]


def load_poems(data_dir: Path = DEFAULT_DATA_DIR, val_fraction: float = 0.05, seed: int = SPLIT_SEED) -> PoemSplits:
    """Tang poems, one per line; a seeded 5 % of whole poems is held out for validation."""
    path = Path(data_dir) / POEM_DIR / POEM_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; run `make data` first")
    poems = [line for line in path.read_text(encoding="utf-8").splitlines() if line]
    train_idx, val_idx = split_indices(len(poems), val_fraction, seed)
    return PoemSplits([poems[i] for i in train_idx], [poems[i] for i in val_idx])


def load_song_poems(data_dir: Path = DEFAULT_DATA_DIR, splits: PoemSplits | None = None) -> list[str]:
    """Song poems to train on beside the Tang ones.

    Some poems sit in both collections (attributed to a Tang and a Song poet), and famous lines are
    quoted: a Song poem sharing any line with a Tang validation poem is dropped, so the validation
    poems stay unseen; one equal to a Tang training poem is dropped as a duplicate.
    """
    path = Path(data_dir) / SONG.dataset / SONG.file_name
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; run `make data` first")
    poems = [line for line in path.read_text(encoding="utf-8").splitlines() if line]
    if splits is None:
        return poems
    held_out = {line[:-1] for poem in splits.val for line in split_lines(poem) or []}
    tang = set(splits.train)
    return [
        poem
        for poem in poems
        if poem not in tang and not any(line[:-1] in held_out for line in split_lines(poem) or [])
    ]
