"""Every door that accepts a kind of input gives it the same verdict: the same rows and pixels through JSON,
CSV uploads and the v2 protocol's tensors are refused alike (each door naming the place its own way) or
answered alike — the same price, the same warnings, the same label."""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
import pytest

from training.house_columns import COLUMNS
from training.image_examples import DIGIT_LABEL, DIGIT_PIXELS

KIND = {name: kind for name, kind, _ in COLUMNS}
HOUSE_ROWS = {
    "ordinary": {"GrLivArea": 1710, "OverallQual": 7, "YearBuilt": 2003, "Neighborhood": "CollgCr"},
    "beyond the training data": {"GrLivArea": 9000, "LotArea": 200000},
    "a negative area": {"GrLivArea": -5},
    "an impossible area": {"LotArea": 1e12},
    "a month 13": {"MoSold": 13},
    "a rating 11": {"OverallQual": 11},
    "a category too long": {"Neighborhood": "x" * 41},
}
REFUSED = {"a negative area": "GrLivArea", "an impossible area": "LotArea", "a month 13": "MoSold",
           "a rating 11": "OverallQual", "a category too long": "Neighborhood"}  # fmt: skip


def house_json(client, row: dict) -> dict:
    answer = client.post("/predict/house-price", json=row)
    if answer.status_code != 200:
        return {"status": answer.status_code, "message": answer.json()["detail"]}
    body = answer.json()
    return {"status": 200, "price": body["sale_price"], "warnings": body.get("warnings", [])}


def house_csv(client, row: dict) -> dict:
    data = pd.DataFrame([{"Id": 1461, **row}]).to_csv(index=False).encode()
    answer = client.post("/predict/house-price/batch", files={"file": ("test.csv", data, "text/csv")})
    if answer.status_code != 200:
        return {"status": answer.status_code, "message": answer.json()["detail"]}
    price = float(pd.read_csv(io.StringIO(answer.text))["SalePrice"][0])
    return {"status": 200, "price": price, "warning_rows": int(answer.headers["x-warning-rows"])}


def house_v2(client, row: dict) -> dict:
    inputs = []
    for name, value in row.items():
        text = KIND[name] == "text"
        inputs.append({"name": name, "datatype": "BYTES" if text else "FP64", "shape": [1], "data": [value]})
    answer = client.post("/v2/models/house/infer", json={"inputs": inputs})
    if answer.status_code != 200:
        return {"status": answer.status_code, "message": answer.json()["error"]}
    outputs = {o["name"]: o["data"] for o in answer.json()["outputs"]}
    warnings = outputs["warnings"][0]
    return {"status": 200, "price": outputs["sale_price"][0], "warnings": warnings.split("; ") if warnings else []}


@pytest.mark.parametrize("case", list(HOUSE_ROWS))
def test_a_house_row_gets_one_verdict_through_json_csv_and_v2(client, case):
    row = HOUSE_ROWS[case]
    json_door, csv_door, v2_door = house_json(client, row), house_csv(client, row), house_v2(client, row)
    if case in REFUSED:
        field = REFUSED[case]
        assert (json_door["status"], csv_door["status"], v2_door["status"]) == (422, 422, 400)
        assert field in json_door["message"]
        assert csv_door["message"].startswith(f"row 1, {field}: ")  # a spreadsheet's row numbers
        assert v2_door["message"].startswith(f"row 0, {field}: ")  # a tensor's index
        # The same reason, word for word, after the place.
        assert csv_door["message"].split(": ", 1)[1] == v2_door["message"].split(": ", 1)[1]
        return
    assert json_door["status"] == csv_door["status"] == v2_door["status"] == 200
    assert math.isclose(json_door["price"], v2_door["price"], abs_tol=0.005)
    assert math.isclose(csv_door["price"], v2_door["price"], abs_tol=0.005)
    assert json_door["warnings"] == v2_door["warnings"]
    assert csv_door["warning_rows"] == (1 if json_door["warnings"] else 0)
    assert bool(json_door["warnings"]) == (case == "beyond the training data")


def pixels_json(client, pixels: list[float]) -> tuple[int, str]:
    answer = client.post("/predict/digit", json={"pixels": pixels})
    return answer.status_code, answer.json().get("detail", str(answer.json().get("label")))


def pixels_csv(client, pixels: list[float]) -> tuple[int, str]:
    header = ",".join(f"pixel{i}" for i in range(784))
    data = f"{header}\n{','.join(f'{v:g}' for v in pixels)}\n".encode()
    answer = client.post("/predict/digit/batch", files={"file": ("test.csv", data, "text/csv")})
    if answer.status_code != 200:
        return answer.status_code, answer.json()["detail"]
    return 200, answer.text.splitlines()[1].split(",")[1]


def pixels_v2(client, pixels: list[float]) -> tuple[int, str]:
    request = {"inputs": [{"name": "pixels", "datatype": "FP32", "shape": [1, 784], "data": pixels}]}
    answer = client.post("/v2/models/digit/infer", json=request)
    if answer.status_code != 200:
        return answer.status_code, answer.json()["error"]
    return 200, str({o["name"]: o["data"] for o in answer.json()["outputs"]}["label"][0])


@pytest.mark.parametrize("bad", [-1.0, 256.0, 255.5, -0.001])
def test_an_out_of_range_pixel_is_refused_by_every_door_naming_it(client, bad):
    pixels = [float(v) for v in DIGIT_PIXELS]
    pixels[17] = bad
    (json_status, json_detail), (csv_status, csv_detail), (v2_status, v2_detail) = (
        door(client, pixels) for door in (pixels_json, pixels_csv, pixels_v2)
    )
    assert (json_status, csv_status, v2_status) == (422, 422, 400)
    assert "pixel 17 is" in json_detail and "outside 0–255" in json_detail
    assert csv_detail.startswith("row 1, column pixel17:") and "not a number in 0–255" in csv_detail
    assert v2_detail.startswith("input 'pixels': element 17 is") and "values must be 0–255" in v2_detail


@pytest.mark.parametrize("edge", [0.0, 255.0])
def test_the_edges_of_the_range_are_accepted_by_every_door_with_one_label(client, edge):
    pixels = [float(v) for v in DIGIT_PIXELS]
    pixels[0] = edge
    verdicts = {door.__name__: door(client, pixels) for door in (pixels_json, pixels_csv, pixels_v2)}
    assert set(verdicts.values()) == {(200, str(DIGIT_LABEL))}, verdicts


def test_the_one_pixel_rule_refuses_what_json_cannot_carry():
    from app.schemas.pixels import out_of_range

    values = np.array([0, 255, np.nan, np.inf, -np.inf, 255.00001, 1e-300])
    assert out_of_range(values).tolist() == [2, 3, 4, 5]
