"""The fast lanes for Kaggle rows: JSON checked by numpy, and raw uint8 bytes — same answers, same refusals."""

import json

import numpy as np
import pytest

from app.api.pixels import rows_from_json
from app.schemas.model_meta import read_spec
from tests.api.conftest import DATA, ROOT, assert_error
from tests.api.helpers import post_json_text
from training.data.images import read_image_csv
from training.image_examples import DIGIT_PIXELS, FASHION_PIXELS

OCTET = {"content-type": "application/octet-stream"}
EXAMPLES = {"digit": DIGIT_PIXELS, "fashion": FASHION_PIXELS}
DIGIT = read_spec(json.loads((ROOT / "models/digit/meta.json").read_text(encoding="utf-8")))  # 28×28, one channel


@pytest.fixture(scope="module")
def mnist_rows() -> np.ndarray:
    images, _ = read_image_csv(DATA / "digit-recognizer" / "test.csv", require_label=True)
    return images[:20].reshape(20, 784).astype(np.uint8)


@pytest.mark.parametrize("name", ["digit", "fashion"])
def test_784_raw_bytes_answer_exactly_like_the_json_row(client, name):
    pixels = EXAMPLES[name]
    as_json = client.post(f"/predict/{name}", json={"pixels": pixels})
    as_bytes = client.post(f"/predict/{name}", content=np.asarray(pixels, np.uint8).tobytes(), headers=OCTET)
    assert as_bytes.status_code == 200, as_bytes.text
    assert as_bytes.json() == as_json.json()
    assert as_bytes.headers["content-type"] == "application/json"


def test_n_images_of_raw_bytes_answer_a_list_in_order(client, mnist_rows):
    response = client.post("/predict/digit", content=mnist_rows.tobytes(), headers=OCTET)
    assert response.status_code == 200, response.text
    by_bytes = response.json()
    by_json = client.post("/predict/digit", json=[{"pixels": row.tolist()} for row in mnist_rows]).json()
    assert len(by_bytes) == 20
    assert by_bytes == by_json


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (bytes(1000), 422, "the body has 1,000 bytes, not a multiple of 784 (each image is 28×28 uint8 pixels"),
        (bytes(783), 422, "the body has 783 bytes, not a multiple of 784"),
        (b"", 422, "the request body is empty; send N×784 bytes"),
    ],
)
def test_raw_bytes_of_a_wrong_length_are_refused_saying_why(client, body, status, message):
    assert_error(client.post("/predict/digit", content=body, headers=OCTET), status, "invalid_input", message)


def test_raw_bytes_past_the_item_limit_are_413(tight_client):
    response = tight_client.post("/predict/digit", content=bytes(784 * 3), headers=OCTET)
    assert_error(response, 413, "too_large", "3 images in one request; the limit is 2 (MAX_LIST_ITEMS)")


@pytest.mark.parametrize(
    ("pixel", "message"),
    [("12", "pixels.783: Input should be a valid number"), (True, "pixels.783: Input should be a valid number")],
    ids=["numeric text", "boolean"],
)
def test_a_pixel_must_be_a_json_number_in_either_lane(client, pixel, message):
    response = client.post("/predict/digit", json={"pixels": [*DIGIT_PIXELS[:783], pixel]})
    assert_error(response, 422, "invalid_input", message)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("255.00001", "pixel 783 is 255.00001, outside 0–255"),  # float32 would round it to 255
        ("1e999", "pixel 783 is inf, outside 0–255"),
        ("-0.5", "pixel 783 is -0.5, outside 0–255"),
    ],
)
def test_values_just_outside_the_range_still_get_the_precise_422(client, value, message):
    text = '{"pixels": [' + ", ".join(["0"] * 783 + [value]) + "]}"
    assert_error(post_json_text(client, "/predict/digit", text), 422, "invalid_input", message)


@pytest.mark.parametrize(
    "payload",
    [
        {"pixels": [0] * 783},
        {"pixels": [0] * 784, "extra": 1},
        {"image": "abc"},
        {"pixels": [None] * 784},
        {"pixels": ["white"] * 784},
        {"pixels": [[0]] * 784},  # numpy would read this as a 784×1 array of valid numbers
        {"pixels": [[0]] * 783 + [[0, 0]]},  # ragged
        {"pixels": [0] * 783 + [256]},
        {"pixels": [0] * 783 + [10**400]},
        [],
        [{"pixels": [0] * 784}] * 3,  # past the limit of 2 below
        "seven",
        [{"pixels": [0] * 784}, {"image": "abc"}],
    ],
)
def test_the_fast_lane_hands_everything_unusual_to_full_validation(payload):
    assert rows_from_json(payload, limit=2, spec=DIGIT) is None


def test_the_fast_lane_leaves_booleans_to_validation():
    # numpy reads [0, true] as [0, 1]: the raw body is what shows the boolean.
    assert rows_from_json({"pixels": [0] * 784}, limit=2, spec=DIGIT, body=b'{"pixels": [true, 0]}') is None


def test_the_fast_lane_takes_one_row_or_a_list_of_rows():
    images, single = rows_from_json({"pixels": DIGIT_PIXELS}, limit=2, spec=DIGIT)
    assert single and len(images) == 1 and images[0].dtype == np.float32 and images[0].shape == (28, 28)
    assert images[0].reshape(-1).tolist() == [float(p) for p in DIGIT_PIXELS]
    images, single = rows_from_json([{"pixels": DIGIT_PIXELS}, {"pixels": FASHION_PIXELS}], limit=2, spec=DIGIT)
    assert not single and len(images) == 2


def test_openapi_offers_the_raw_bytes_body(client):
    openapi = client.get("/openapi.json").json()
    for name in ("digit", "fashion"):
        content = openapi["paths"][f"/predict/{name}"]["post"]["requestBody"]["content"]
        assert content["application/octet-stream"]["schema"]["format"] == "binary"
