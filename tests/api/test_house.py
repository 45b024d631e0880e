"""POST /predict/house-price and /predict/house-price/batch: Kaggle's own rows, parity with training, refusals."""

import json
import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest
import torch

from app.models.torchscript import load_torchscript
from app.predictors.tabular_features import transform
from tests.api.conftest import DATA, MODELS, assert_error, make_client
from tests.api.helpers import csv_bytes, model_version, post_json_text, read_csv_answer, upload
from training.house_columns import EXAMPLE, RANGES_FILE
from training.house_ranges import compute_ranges

PATH = "/predict/house-price"
BATCH = "/predict/house-price/batch"
KAGGLE_TEST = DATA / "house-prices" / "test.csv"
KAGGLE_TRAIN = DATA / "house-prices" / "train.csv"
SPARSE = {"GrLivArea": 1710, "OverallQual": 7, "YearBuilt": 2003, "Neighborhood": "CollgCr"}


@pytest.fixture(scope="module")
def kaggle_test() -> pd.DataFrame:
    return pd.read_csv(KAGGLE_TEST)


@pytest.fixture(scope="module")
def batch_answer(client) -> pd.DataFrame:
    return read_csv_answer(upload(client, BATCH, KAGGLE_TEST.read_bytes(), "test.csv"), "Id,SalePrice")


def training_prices(frame: pd.DataFrame, chunk_rows: int) -> np.ndarray:
    """Prices computed as training computes them: preprocess.json → transform → model.pt → exp.

    Run in the server's chunks, so both sides do the very same float32 arithmetic.
    """
    spec = json.loads((MODELS / "house" / "preprocess.json").read_text(encoding="utf-8"))
    model = load_torchscript(str(MODELS / "house" / "model.pt"), map_location="cpu").eval()
    x = torch.from_numpy(transform(spec, frame).astype(np.float32))
    with torch.inference_mode():
        log_prices = torch.cat([model(chunk) for chunk in x.split(chunk_rows)])
    return np.exp(log_prices.double().numpy())


def price(client, house: dict) -> float:
    response = client.post(PATH, json=house)
    assert response.status_code == 200, response.text
    return response.json()["sale_price"]


def test_kaggle_example_is_priced(client):
    response = client.post(PATH, json=EXAMPLE)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert set(answer) == {"sale_price", "model_version"}
    assert isinstance(answer["sale_price"], float)
    assert 0 < answer["sale_price"] < math.inf
    assert answer["model_version"] == model_version(client, "house")


@pytest.mark.parametrize("house", [SPARSE, {}, {"GrLivArea": None, "Alley": None, "MSSubClass": None}])
def test_missing_fields_and_nulls_are_filled_as_in_training(client, house):
    assert price(client, house) > 0


def test_null_is_the_same_as_leaving_the_field_out(client):
    assert price(client, {"GrLivArea": None, "Alley": None}) == price(client, {})


def test_unseen_categories_are_accepted_and_ignored_as_in_training(client):
    unseen = EXAMPLE | {"MSSubClass": 150, "Neighborhood": "Atlantis"}
    without = {k: v for k, v in EXAMPLE.items() if k not in ("MSSubClass", "Neighborhood")}
    assert price(client, unseen) == price(client, without)


def test_a_list_is_answered_with_a_list_in_the_same_order(client):
    houses = [EXAMPLE, {}, SPARSE | {"GrLivArea": 4000, "OverallQual": 10}]
    response = client.post(PATH, json=houses)
    assert response.status_code == 200, response.text
    together = [answer["sale_price"] for answer in response.json()]
    alone = [price(client, house) for house in houses]
    assert together == pytest.approx(alone, rel=1e-5)


@pytest.mark.parametrize(
    ("house", "message"),
    [
        ({"GrLivArea": -1}, "GrLivArea: Input should be greater than or equal to 0"),
        ({"LotArea": "big"}, "LotArea: Input should be a valid number"),
        ({"Colour": "red"}, "Colour: unknown field"),
        ({"f_GrLivArea": 1000}, "f_GrLivArea: unknown field"),
        ({"MoSold": 13}, "MoSold: Input should be less than or equal to 12"),
        ({"OverallQual": 0}, "OverallQual: Input should be greater than or equal to 1"),
        ([EXAMPLE, {"GrLivArea": -5}], "1.GrLivArea: Input should be greater than or equal to 0"),
    ],
    ids=["negative area", "text number", "unknown field", "python name", "month 13", "rating 0", "bad item"],
)
def test_invalid_house_is_422_naming_the_field(client, house, message):
    assert_error(client.post(PATH, json=house), 422, "invalid_input", message)


def test_nan_in_raw_json_is_422(client):
    response = post_json_text(client, PATH, '{"GrLivArea": NaN}')
    body = assert_error(response, 422, "invalid_input", "GrLivArea: Input should be a finite number")
    assert body["errors"] == [
        {"field": "GrLivArea", "message": "Input should be a finite number", "type": "finite_number"}
    ]


def test_empty_list_is_422_and_too_many_houses_413(client, tight_client):
    assert_error(client.post(PATH, json=[]), 422, "invalid_input", "the list of houses is empty")
    response = tight_client.post(PATH, json=[{}, {}, {}])
    assert_error(response, 413, "too_large", "3 houses in one request; the limit is 2 (MAX_LIST_ITEMS)")


def test_batch_answers_kaggle_submission_for_the_real_test_csv(batch_answer, kaggle_test):
    assert list(batch_answer.columns) == ["Id", "SalePrice"]
    assert batch_answer["Id"].tolist() == kaggle_test["Id"].tolist()
    assert len(batch_answer) == 1459
    prices = batch_answer["SalePrice"].to_numpy()
    assert np.isfinite(prices).all()
    assert (prices > 0).all()


def test_batch_prices_equal_training_preprocessing_and_model_to_the_cent(client, batch_answer, kaggle_test):
    expected = training_prices(kaggle_test, client.app.state.settings.csv_chunk_rows)
    assert np.abs(batch_answer["SalePrice"].to_numpy() - expected).max() <= 0.01


def test_json_prices_of_test_rows_equal_training_to_the_cent(client, kaggle_test):
    rows = kaggle_test.iloc[:20]
    records = json.loads(rows.to_json(orient="records"))  # NaN becomes null, as a JSON client sends it
    response = client.post(PATH, json=records)
    assert response.status_code == 200, response.text
    served = np.array([answer["sale_price"] for answer in response.json()])
    assert np.abs(served - training_prices(rows, len(rows))).max() <= 0.01


def test_batch_accepts_train_csv_and_ignores_its_sale_price(client):
    answer = read_csv_answer(upload(client, BATCH, KAGGLE_TRAIN.read_bytes(), "train.csv"), "Id,SalePrice")
    assert answer["Id"].tolist() == list(range(1, 1461))


@pytest.fixture(scope="module")
def six_rows(kaggle_test) -> pd.DataFrame:
    return kaggle_test.iloc[:6]


def test_batch_refuses_an_unknown_column_naming_it(client, six_rows):
    response = upload(client, BATCH, csv_bytes(six_rows.rename(columns={"Fence": "Fencing"})))
    assert_error(response, 422, "invalid_csv", "unknown columns ['Fencing']")


def test_batch_refuses_a_file_without_id(client, six_rows):
    response = upload(client, BATCH, csv_bytes(six_rows.drop(columns=["Id"])))
    assert_error(response, 422, "invalid_csv", "expected Kaggle's columns (Id and the 79 features): no `Id` column")


def test_batch_refuses_text_in_a_numeric_column_naming_row_and_column(client, six_rows):
    frame = six_rows.astype(object)
    frame.loc[frame.index[2], "GrLivArea"] = "big"
    response = upload(client, BATCH, csv_bytes(frame))
    assert_error(response, 422, "invalid_csv", "row 3, GrLivArea: Input should be a valid number")


def test_batch_refuses_an_id_that_is_not_an_integer(client, six_rows):
    frame = six_rows.astype(object)
    frame.loc[frame.index[4], "Id"] = "x17"
    assert_error(upload(client, BATCH, csv_bytes(frame)), 422, "invalid_csv", "row 5: Id 'x17' is not an integer")


def test_batch_over_max_csv_rows_is_413(tight_client, six_rows):
    response = upload(tight_client, BATCH, csv_bytes(six_rows))
    assert_error(response, 413, "too_large", "the CSV has 6 rows; the limit is 5 (MAX_CSV_ROWS)")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"LotArea": 1e300}, "LotArea: Input should be less than or equal to 860980"),
        ({"GrLivArea": 1e12}, "GrLivArea: Input should be less than or equal to 22568"),
        ({"GarageCars": 100}, "GarageCars: Input should be less than or equal to 16"),
        ({"LotArea": -0.5}, "LotArea: Input should be greater than or equal to 0"),
        ({"MiscVal": False}, "MiscVal: Input should be a valid number"),
        ({"GrLivArea": "1710"}, "GrLivArea: Input should be a valid number"),
    ],
)
def test_implausible_values_are_a_422_naming_the_field_and_its_range(client, body, message):
    assert_error(client.post("/predict/house-price", json=body), 422, "invalid_input", message)


def test_a_value_beyond_the_training_data_is_answered_with_a_warning(client):
    usual = client.post("/predict/house-price", json={"GrLivArea": 1710}).json()
    assert "warnings" not in usual
    answer = client.post("/predict/house-price", json={"GrLivArea": 9000, "LotArea": 9000}).json()
    assert answer["warnings"] == [
        "GrLivArea 9000 is outside the training data (334–5642): the price is an extrapolation"
    ]
    assert answer["sale_price"] > usual["sale_price"]


def test_the_committed_ranges_are_what_the_training_data_gives():
    computed = compute_ranges(pd.read_csv(DATA / "house-prices" / "train.csv"))
    assert computed == json.loads(RANGES_FILE.read_text(encoding="utf-8"))
    assert computed["GrLivArea"] == {"min": 0.0, "max": 22568.0, "seen_min": 334.0, "seen_max": 5642.0}


def test_csv_uploads_beyond_max_concurrent_csv_wait_their_turn_and_all_answer():
    data = (DATA / "house-prices" / "test.csv").read_bytes()
    with make_client(max_concurrent_csv=1) as one_at_a_time:
        assert one_at_a_time.app.state.service.csv_slots._value == 1
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda _: upload(one_at_a_time, "/predict/house-price/batch", data, "test.csv"),
                                    range(4)))  # fmt: skip
    assert [a.status_code for a in answers] == [200] * 4
    assert len({a.text for a in answers}) == 1
