import re

import numpy as np
import pytest

from training.data.images import CsvFormatError, pixel_columns, read_image_csv, verify_image_csv, write_image_csv


def _random_images(n, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(n, 28, 28), dtype=np.uint8)


def _write_csv(path, header, rows):
    path.write_text("\n".join(",".join(map(str, r)) for r in [header, *rows]) + "\n", encoding="ascii")
    return path


def test_pixel_columns():
    assert pixel_columns(0)[:2] == ["pixel0", "pixel1"]
    assert pixel_columns(0)[-1] == "pixel783"
    assert pixel_columns(1)[-1] == "pixel784"
    assert len(pixel_columns(1)) == 784


@pytest.mark.parametrize("first_pixel", [0, 1])
def test_write_read_round_trip(tmp_path, first_pixel):
    images = _random_images(7)
    labels = np.array([3, 1, 4, 1, 5, 9, 2])
    path = tmp_path / "sub" / "train.csv"
    assert write_image_csv(path, images, labels, first_pixel=first_pixel) == 7
    assert path.read_text().splitlines()[0] == ",".join(["label", *pixel_columns(first_pixel)])
    assert sorted(p.name for p in path.parent.iterdir()) == ["train.csv"]  # no .part file left behind
    read_images, read_labels = read_image_csv(path, require_label=True)
    np.testing.assert_array_equal(read_images, images)
    assert read_images.dtype == np.uint8
    assert read_labels.dtype == np.int64
    assert read_labels.tolist() == [3, 1, 4, 1, 5, 9, 2]


def test_write_read_round_trip_without_labels(tmp_path):
    images = _random_images(3)
    path = tmp_path / "test.csv"
    assert write_image_csv(path, images, None, first_pixel=0) == 3
    assert path.read_text().splitlines()[0] == ",".join(pixel_columns(0))
    read_images, read_labels = read_image_csv(path)
    np.testing.assert_array_equal(read_images, images)
    assert read_labels is None


def test_write_is_byte_exact(tmp_path):
    images = np.zeros((1, 28, 28), dtype=np.uint8)
    images[0, 0, 1] = 255
    path = tmp_path / "one.csv"
    write_image_csv(path, images, np.array([7]), first_pixel=1)
    header = "label," + ",".join(f"pixel{i}" for i in range(1, 785))
    row = "7,0,255," + ",".join(["0"] * 782)
    assert path.read_bytes() == f"{header}\n{row}\n".encode("ascii")


@pytest.mark.parametrize(("first_pixel", "with_label"), [(0, True), (0, False), (1, True), (1, False)])
def test_read_kaggle_naming(tmp_path, first_pixel, with_label):
    """Kaggle digit files use pixel0..pixel783, its Fashion-MNIST files pixel1..pixel784."""
    header = [f"pixel{i}" for i in range(first_pixel, first_pixel + 784)]
    row0, row1 = [0] * 784, list(range(256)) * 3 + [17] * 16
    rows = [row0, row1]
    if with_label:
        header = ["label", *header]
        rows = [[9, *row0], [0, *row1]]
    path = _write_csv(tmp_path / "kaggle.csv", header, rows)
    images, labels = read_image_csv(path)
    assert images.shape == (2, 28, 28)
    assert images[1].reshape(-1).tolist() == row1
    assert images[0].sum() == 0
    if with_label:
        assert labels.tolist() == [9, 0]
    else:
        assert labels is None


def test_require_label_without_label_column(tmp_path):
    path = _write_csv(tmp_path / "test.csv", pixel_columns(0), [[0] * 784])
    with pytest.raises(CsvFormatError, match=re.escape("test.csv: has no `label` column")):
        read_image_csv(path, require_label=True)


@pytest.mark.parametrize(
    "header",
    [
        ["label", *pixel_columns(0)[:-1]],  # 783 pixels
        ["label", *pixel_columns(0), "pixel784"],  # 785 pixels
        ["label", *pixel_columns(2)],  # starts at pixel2
        ["label", *[f"px{i}" for i in range(784)]],
        ["id", *pixel_columns(0)],  # an extra non-label column
    ],
)
def test_wrong_columns(tmp_path, header):
    path = _write_csv(tmp_path / "bad.csv", header, [[0] * len(header)])
    with pytest.raises(CsvFormatError, match="expected an optional `label` column and 784 pixel columns"):
        read_image_csv(path)


def test_pixel_256(tmp_path):
    path = _write_csv(tmp_path / "bad.csv", ["label", *pixel_columns(0)], [[1, 256] + [0] * 783])
    with pytest.raises(CsvFormatError, match=re.escape("bad.csv: pixel values must lie in 0–255, found 0–256")):
        read_image_csv(path)


def test_negative_pixel(tmp_path):
    path = _write_csv(tmp_path / "bad.csv", pixel_columns(1), [[-1] + [0] * 783])
    with pytest.raises(CsvFormatError, match="pixel values must lie in 0–255, found -1–0"):
        read_image_csv(path)


def test_label_out_of_range(tmp_path):
    path = _write_csv(tmp_path / "bad.csv", ["label", *pixel_columns(0)], [[10] + [0] * 784, [3] + [0] * 784])
    with pytest.raises(CsvFormatError, match="labels must lie in 0–9, found 3–10"):
        read_image_csv(path)


@pytest.mark.parametrize("cell", ["x", "", "1.5"])
def test_non_integer_cell(tmp_path, cell):
    path = _write_csv(tmp_path / "bad.csv", ["label", *pixel_columns(0)], [[1, cell] + [0] * 783])
    with pytest.raises(CsvFormatError, match=re.escape("bad.csv: every cell must be an integer")):
        read_image_csv(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="run `make data` first"):
        read_image_csv(tmp_path / "train.csv")


def test_verify_image_csv(tmp_path):
    path = tmp_path / "train.csv"
    write_image_csv(path, _random_images(12), np.arange(12) % 10, first_pixel=0)
    assert verify_image_csv(path, expected_rows=12) == 12
    assert verify_image_csv(path, expected_rows=None) == 12


def test_verify_image_csv_wrong_row_count(tmp_path):
    path = tmp_path / "train.csv"
    write_image_csv(path, _random_images(10), np.arange(10), first_pixel=0)
    with pytest.raises(CsvFormatError, match=re.escape("train.csv: expected 11 rows, found 10")):
        verify_image_csv(path, expected_rows=11)


def test_verify_image_csv_missing_classes(tmp_path):
    path = tmp_path / "train.csv"
    write_image_csv(path, _random_images(8), np.arange(8), first_pixel=0)
    with pytest.raises(CsvFormatError, match=r"classes \[8, 9\] have no rows"):
        verify_image_csv(path, expected_rows=8)


def test_verify_image_csv_requires_labels(tmp_path):
    path = tmp_path / "test.csv"
    write_image_csv(path, _random_images(10), None, first_pixel=0)
    with pytest.raises(CsvFormatError, match="has no `label` column"):
        verify_image_csv(path, expected_rows=10)
