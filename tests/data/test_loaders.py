import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import train_test_split

from training.data.images import write_image_csv
from training.data.loaders import load_digits, load_fashion, load_house, load_poems, split_indices


def test_split_indices_is_deterministic():
    first = split_indices(100, 0.1)
    second = split_indices(100, 0.1)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])


def test_split_indices_depends_on_seed():
    assert split_indices(100, 0.1, seed=0)[1].tolist() != split_indices(100, 0.1, seed=1)[1].tolist()


@pytest.mark.parametrize(
    ("n", "fraction", "n_val"),
    [(100, 0.1, 10), (1000, 0.05, 50), (60_000, 0.1, 6_000), (7, 0.5, 4), (10, 0.0, 0), (0, 0.1, 0)],
)
def test_split_indices_partition(n, fraction, n_val):
    train, val = split_indices(n, fraction)
    assert len(val) == n_val
    assert len(train) == n - n_val
    assert set(train.tolist()).isdisjoint(val.tolist())
    assert sorted([*train.tolist(), *val.tolist()]) == list(range(n))
    assert train.tolist() == sorted(train.tolist())
    assert val.tolist() == sorted(val.tolist())


@pytest.mark.parametrize("fraction", [-0.1, 1.0, 1.5])
def test_split_indices_rejects_bad_fraction(fraction):
    with pytest.raises(ValueError, match=f"val_fraction must be in \\[0, 1\\), got {fraction}"):
        split_indices(10, fraction)


def _write_images(folder, train_name, test_name, first_pixel):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(20, 28, 28), dtype=np.uint8)
    y = np.arange(20) % 10
    x_test = rng.integers(0, 256, size=(6, 28, 28), dtype=np.uint8)
    y_test = np.array([5, 4, 3, 2, 1, 0])
    write_image_csv(folder / train_name, x, y, first_pixel=first_pixel)
    write_image_csv(folder / test_name, x_test, y_test, first_pixel=first_pixel)
    return x, y, x_test, y_test


@pytest.mark.parametrize(
    ("load", "folder", "train_name", "test_name", "first_pixel"),
    [
        (load_digits, "digit-recognizer", "train.csv", "test.csv", 0),
        (load_fashion, "fashion-mnist", "fashion-mnist_train.csv", "fashion-mnist_test.csv", 1),
    ],
)
def test_load_images(tmp_path, load, folder, train_name, test_name, first_pixel):
    x, y, x_test, y_test = _write_images(tmp_path / folder, train_name, test_name, first_pixel)
    splits = load(tmp_path, val_fraction=0.25, seed=3)
    train_idx, val_idx = split_indices(20, 0.25, seed=3)
    assert len(splits.x_train) == 15
    assert len(splits.x_val) == 5
    np.testing.assert_array_equal(splits.x_train, x[train_idx])
    np.testing.assert_array_equal(splits.y_train, y[train_idx])
    np.testing.assert_array_equal(splits.x_val, x[val_idx])
    np.testing.assert_array_equal(splits.y_val, y[val_idx])
    np.testing.assert_array_equal(splits.x_test, x_test)
    assert splits.y_test.tolist() == y_test.tolist() == [5, 4, 3, 2, 1, 0]
    assert splits.x_train.dtype == np.uint8
    assert splits.y_train.dtype == np.int64


def test_load_digits_default_split(tmp_path):
    _write_images(tmp_path / "digit-recognizer", "train.csv", "test.csv", 0)
    splits = load_digits(tmp_path)
    assert (len(splits.x_train), len(splits.x_val), len(splits.x_test)) == (18, 2, 6)


@pytest.mark.parametrize("load", [load_digits, load_fashion, load_house, load_poems])
def test_missing_files(tmp_path, load):
    with pytest.raises(FileNotFoundError, match="does not exist; run `make data` first"):
        load(tmp_path)


def test_load_images_missing_test_file(tmp_path):
    folder = tmp_path / "digit-recognizer"
    write_image_csv(folder / "train.csv", np.zeros((10, 28, 28), np.uint8), np.arange(10), first_pixel=0)
    with pytest.raises(FileNotFoundError, match=r"digit-recognizer/test\.csv does not exist"):
        load_digits(tmp_path)


def _write_house(folder, n_train, n_test):
    folder.mkdir(parents=True)
    features = [f"Feature{i}" for i in range(1, 80)]
    train = pd.DataFrame({"Id": range(1, n_train + 1)})
    for i, name in enumerate(features):
        train[name] = [row * i for row in range(n_train)]
    train["SalePrice"] = [100_000 + 500 * row for row in range(n_train)]
    test = pd.DataFrame({"Id": range(n_train + 1, n_train + n_test + 1)})
    for name in features:
        test[name] = 1
    train.to_csv(folder / "train.csv", index=False)
    test.to_csv(folder / "test.csv", index=False)
    return train, test


@pytest.mark.parametrize(("n_train", "n_val"), [(11, 3), (20, 4), (1460, 292)])
def test_load_house_matches_sklearn_split(tmp_path, n_train, n_val):
    train, test = _write_house(tmp_path / "house-prices", n_train, 5)
    splits = load_house(tmp_path)
    expected_train, expected_val = train_test_split(train, test_size=0.2, random_state=42)
    assert len(splits.train) == n_train - n_val
    assert len(splits.val) == n_val
    assert splits.train["Id"].tolist() == expected_train["Id"].tolist()
    assert splits.val["Id"].tolist() == expected_val["Id"].tolist()
    assert splits.train.index.tolist() == list(range(n_train - n_val))
    pd.testing.assert_frame_equal(splits.full_train, train)
    pd.testing.assert_frame_equal(splits.test, test)
    assert "SalePrice" not in splits.test.columns


def test_load_poems(tmp_path):
    folder = tmp_path / "poems"
    folder.mkdir()
    poems = [f"第{i}首" for i in range(40)]  # the loader does not judge content
    (folder / "poems.txt").write_text("\n".join(poems) + "\n\n", encoding="utf-8")
    splits = load_poems(tmp_path)
    train_idx, val_idx = split_indices(40, 0.05)
    assert splits.val == [poems[i] for i in val_idx]
    assert splits.train == [poems[i] for i in train_idx]
    assert len(splits.val) == 2
    assert len(splits.train) == 38


def test_load_poems_custom_fraction(tmp_path):
    folder = tmp_path / "poems"
    folder.mkdir()
    (folder / "poems.txt").write_text("甲\n乙\n丙\n丁\n", encoding="utf-8")
    splits = load_poems(tmp_path, val_fraction=0.5, seed=7)
    assert sorted(splits.train + splits.val) == sorted(["甲", "乙", "丙", "丁"])
    assert len(splits.val) == 2
    assert splits.val == load_poems(tmp_path, val_fraction=0.5, seed=7).val
