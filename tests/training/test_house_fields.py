"""The playground's house form (app/static/playground/house_fields.json) is what the data and the model say."""

import json

import numpy as np
import pytest
import torch

from app.models.registry import load_model
from app.predictors.tabular import TabularRegressor
from tests.api.conftest import DATA, MODELS
from training.data.loaders import load_house
from training.house_columns import COLUMNS
from training.house_fields import CAPTIONS, FIELDS_FILE, MAIN_FIELDS, compute_fields, permutation_importance


@pytest.fixture(scope="module")
def committed():
    return json.loads(FIELDS_FILE.read_text(encoding="utf-8"))


@pytest.mark.training
def test_the_committed_form_matches_a_rebuild(committed):
    splits = load_house(DATA)
    loaded = load_model("house", MODELS / "house", torch.device("cpu"))
    pricer = TabularRegressor(loaded.module, loaded.side, loaded.device, transform="exp")
    holdout = splits.val.drop(columns=["Id", "SalePrice"])
    importance = permutation_importance(pricer, holdout, splits.val["SalePrice"].to_numpy(dtype=np.float64))
    assert compute_fields(splits.full_train, importance) == committed


def test_every_column_is_in_the_form_once_and_the_leaders_are_bilingual(committed):
    names = [field["name"] for field in committed["main"] + committed["other"]]
    assert sorted(names) == sorted(name for name, _, _ in COLUMNS)
    assert len(committed["main"]) == MAIN_FIELDS
    for field in committed["main"]:
        assert field["label_zh"] and field["label_en"] and field["typical"] is not None
        assert field["importance"] > 0
    importances = [field["importance"] for field in committed["main"]]
    assert importances == sorted(importances, reverse=True)


def test_typical_values_are_valid_requests(client, committed):
    body = {field["name"]: field["typical"] for field in committed["main"] + committed["other"]}
    response = client.post("/predict/house-price", json=body)
    assert response.status_code == 200, response.text
    assert 50_000 < response.json()["sale_price"] < 500_000


def test_a_leading_field_without_a_caption_stops_the_script():
    importance = {name: 0.0 for name, _, _ in COLUMNS} | {"PoolQC": 1.0}
    assert "PoolQC" not in CAPTIONS
    with pytest.raises(SystemExit, match="PoolQC leads the form but has no caption"):
        compute_fields(load_house(DATA).full_train, importance)
