"""POST /predict/fashion and /predict/fashion/batch: the input forms, class names, real Fashion-MNIST test images."""

import numpy as np
import pandas as pd
import pytest

from tests.api import helpers
from tests.api.conftest import DATA, assert_error
from training.data.images import read_image_csv
from training.image_examples import FASHION_LABEL, FASHION_PIXELS, FASHION_PNG_BASE64

PATH = "/predict/fashion"
BATCH = "/predict/fashion/batch"
FASHION_TEST = DATA / "fashion-mnist" / "fashion-mnist_test.csv"
FORMS = helpers.input_forms(FASHION_PIXELS, FASHION_PNG_BASE64)


@pytest.fixture(scope="module")
def fashion() -> tuple[np.ndarray, np.ndarray]:
    return read_image_csv(FASHION_TEST, require_label=True)


@pytest.fixture(scope="module")
def classes(client) -> tuple[list[str], list[str]]:
    output = client.get("/models/fashion").json()["output"]
    return output["classes"], output["classes_zh"]


@pytest.mark.parametrize("form", FORMS)
def test_every_input_form_reads_the_example_ankle_boot(client, form):
    response = client.post(PATH, **FORMS[form])
    assert response.status_code == 200, response.text
    answer = response.json()
    version = helpers.model_version(client, "fashion")
    assert helpers.assert_classification(answer, version, ("class_name", "class_name_zh")) == FASHION_LABEL
    assert (answer["class_name"], answer["class_name_zh"]) == ("Ankle boot", "靴子")


def test_list_answers_carry_the_names_of_their_labels(client, fashion, classes):
    images, _ = fashion
    response = client.post(PATH, json=[{"pixels": image.reshape(-1).tolist()} for image in images[:20]])
    assert response.status_code == 200, response.text
    answers = response.json()
    english, chinese = classes
    assert len(answers) == 20
    for answer in answers:
        assert (answer["class_name"], answer["class_name_zh"]) == (english[answer["label"]], chinese[answer["label"]])


@pytest.mark.dataset
def test_500_fashion_uploads_half_of_them_dark_on_white_are_90_percent_right(client, fashion):
    images, labels = helpers.sample(*fashion, 500)
    accuracy = helpers.upload_accuracy(client, PATH, images, labels)
    assert accuracy >= 0.90


@pytest.mark.dataset
def test_batch_on_the_real_test_csv_is_93_percent_right(client, fashion):
    _, labels = fashion
    response = helpers.upload(client, BATCH, FASHION_TEST.read_bytes(), "test.csv")
    answer = helpers.read_csv_answer(response, "ImageId,Label")
    assert answer["ImageId"].tolist() == list(range(1, len(labels) + 1))
    accuracy = (answer["Label"].to_numpy() == labels).mean()
    assert accuracy >= 0.93


def test_batch_reads_either_pixel_column_naming(client):
    one_based = pd.read_csv(FASHION_TEST, nrows=50)  # label, pixel1..pixel784
    zero_based = one_based.set_axis(["label", *(f"pixel{i}" for i in range(784))], axis=1)
    answers = [
        helpers.read_csv_answer(helpers.upload(client, BATCH, helpers.csv_bytes(frame), "test.csv"), "ImageId,Label")
        for frame in (one_based, zero_based)
    ]
    pd.testing.assert_frame_equal(*answers)
    assert len(answers[0]) == 50


def test_blank_photo_is_422_no_visible_item(client):
    response = helpers.upload(client, PATH, helpers.png_bytes(np.full((300, 200), 240, np.uint8)))
    assert_error(response, 422, "invalid_image", "the image contains no visible item")


def test_batch_with_pixel_columns_out_of_order_is_422(client):
    frame = pd.read_csv(FASHION_TEST, nrows=3)
    swapped = frame[["label", "pixel2", "pixel1", *frame.columns[3:]]]
    response = helpers.upload(client, BATCH, helpers.csv_bytes(swapped), "test.csv")
    assert_error(response, 422, "invalid_csv", "(pixel0..pixel783 or pixel1..pixel784): pixel columns out of order")


def test_pixel_out_of_range_is_422_naming_it(client):
    pixels = [*FASHION_PIXELS[:10], 300, *FASHION_PIXELS[11:]]
    assert_error(client.post(PATH, json={"pixels": pixels}), 422, "invalid_input", "pixel 10 is 300.0, outside 0–255")
