"""The JSON export of the house preprocessing reproduces the fitted sklearn transformer exactly."""

import json

import numpy as np
import pytest

from app.predictors.tabular_features import MISSING_CATEGORY, category_text, transform
from training.data.loaders import load_house
from training.house_preprocess import export_spec, fit_preprocessor, sklearn_transform


@pytest.fixture(scope="module")
def house():
    return load_house()


@pytest.fixture(scope="module")
def fitted(house):
    preprocessor = fit_preprocessor(house.train)
    # Through JSON text, as the server reads it.
    return preprocessor, json.loads(json.dumps(export_spec(preprocessor)))


@pytest.mark.parametrize("part", ["train", "val", "test"])
def test_json_spec_reproduces_sklearn_on_real_csv(house, fitted, part):
    preprocessor, spec = fitted
    frame = getattr(house, part)
    np.testing.assert_allclose(transform(spec, frame), sklearn_transform(preprocessor, frame), atol=1e-6, rtol=0)


def test_real_test_csv_has_missing_values_where_train_had_none(house, fitted):
    """The known data facts the parity must cover: gaps in columns complete in train, unseen categories."""
    complete_in_train = [c for c in ("MSZoning", "KitchenQual", "GarageCars") if house.train[c].notna().all()]
    assert complete_in_train and all(house.test[c].isna().any() for c in complete_in_train)
    assert 150 in set(house.test["MSSubClass"]) and 150 not in set(house.train["MSSubClass"])


def test_unseen_category_and_missing_values_follow_sklearn(house, fitted):
    preprocessor, spec = fitted
    rows = house.test.iloc[:3].copy()
    rows["MSSubClass"] = 150  # never seen in training
    rows["Neighborhood"] = "Atlantis"
    rows["GrLivArea"] = np.nan  # complete in training
    rows["KitchenQual"] = None
    np.testing.assert_allclose(transform(spec, rows), sklearn_transform(preprocessor, rows), atol=1e-6, rtol=0)
    neighborhood = next(c for c in spec["categorical"] if c["name"] == "Neighborhood")
    start = len(spec["numeric"]) + sum(
        len(c["categories"]) for c in spec["categorical"][: spec["categorical"].index(neighborhood)]
    )
    assert transform(spec, rows)[:, start : start + len(neighborhood["categories"])].sum() == 0.0


def test_missing_columns_count_as_missing_values(house, fitted):
    _, spec = fitted
    one = house.test.iloc[[0]]
    without = one.drop(columns=["LotFrontage", "Alley"])
    with_nan = one.assign(LotFrontage=np.nan, Alley=None)
    np.testing.assert_allclose(transform(spec, without), transform(spec, with_nan), atol=0, rtol=0)


def test_spec_records_fill_values_means_scales_and_categories(house, fitted):
    preprocessor, spec = fitted
    assert spec["n_features"] == sklearn_transform(preprocessor, house.val).shape[1]
    area = next(c for c in spec["numeric"] if c["name"] == "GrLivArea")
    assert area["log1p"] is True  # living area is right-skewed
    assert area["scale"] > 0
    assert spec["n_features"] == len(spec["numeric"]) + sum(len(c["categories"]) for c in spec["categorical"])
    ms_subclass = next(c for c in spec["categorical"] if c["name"] == "MSSubClass")
    assert "20" in ms_subclass["categories"]


@pytest.mark.parametrize(
    ("value", "text"), [(20, "20"), (20.0, "20"), ("20", "20"), (None, MISSING_CATEGORY), (float("nan"), "NaN")]
)
def test_category_text_treats_number_forms_alike(value, text):
    assert category_text(value) == text
