"""POST /predict/digit and /predict/digit/batch: every input form, real MNIST test images, every refusal."""

import base64

import numpy as np
import pandas as pd
import pytest

from tests.api.conftest import DATA, assert_error
from tests.api.helpers import (
    assert_classification,
    csv_bytes,
    input_forms,
    model_version,
    noise_png,
    png_bytes,
    post_json_text,
    read_csv_answer,
    sample,
    upload,
    upload_accuracy,
)
from training.data.images import read_image_csv
from training.image_examples import DIGIT_LABEL, DIGIT_PIXELS, DIGIT_PNG_BASE64

PATH = "/predict/digit"
BATCH = "/predict/digit/batch"
MNIST_TEST = DATA / "digit-recognizer" / "test.csv"
KAGGLE_TEST_ROWS = 28_000  # the size of Kaggle's digit-recognizer test.csv
FORMS = input_forms(DIGIT_PIXELS, DIGIT_PNG_BASE64)


@pytest.fixture(scope="module")
def mnist() -> tuple[np.ndarray, np.ndarray]:
    return read_image_csv(MNIST_TEST, require_label=True)


@pytest.fixture(scope="module")
def unlabelled_csv() -> bytes:
    """MNIST's test rows in the format of Kaggle's test.csv: pixel0..pixel783, no label column."""
    return csv_bytes(pd.read_csv(MNIST_TEST).drop(columns=["label"]))


@pytest.fixture(scope="module")
def labelled_answer(client) -> pd.DataFrame:
    """The answer to uploading the real MNIST test.csv (label column included) as it is on disk."""
    return read_csv_answer(upload(client, BATCH, MNIST_TEST.read_bytes(), "test.csv"), "ImageId,Label")


@pytest.mark.parametrize("form", FORMS)
def test_every_input_form_reads_the_example_seven(client, form):
    response = client.post(PATH, **FORMS[form])
    assert response.status_code == 200, response.text
    assert assert_classification(response.json(), model_version(client, "digit")) == DIGIT_LABEL


def test_a_list_is_answered_with_a_list_in_the_same_order(client, mnist):
    images, _ = mnist
    items = [{"pixels": images[i].reshape(-1).tolist()} for i in range(5)]
    items.insert(2, {"image": DIGIT_PNG_BASE64})
    response = client.post(PATH, json=items)
    assert response.status_code == 200, response.text
    answers = response.json()
    alone = [client.post(PATH, json=item).json() for item in items]
    assert [a["label"] for a in answers] == [a["label"] for a in alone]
    for together, single in zip(answers, alone, strict=True):
        assert np.allclose(together["probabilities"], single["probabilities"], atol=1e-5)


@pytest.mark.dataset
def test_500_mnist_uploads_half_of_them_drawn_dark_on_white_are_98_percent_right(client, mnist):
    images, labels = sample(*mnist, 500)
    accuracy = upload_accuracy(client, PATH, images, labels)
    assert accuracy >= 0.98


@pytest.mark.dataset
def test_batch_answers_kaggle_submission_for_the_real_test_csv(labelled_answer, mnist):
    _, labels = mnist
    assert list(labelled_answer.columns) == ["ImageId", "Label"]
    assert labelled_answer["ImageId"].tolist() == list(range(1, len(labels) + 1))
    accuracy = (labelled_answer["Label"].to_numpy() == labels).mean()
    assert accuracy >= 0.99


@pytest.mark.dataset
def test_batch_without_label_column_gives_the_same_answers(client, unlabelled_csv, labelled_answer):
    first_thousand = b"\n".join(unlabelled_csv.split(b"\n")[:1001]) + b"\n"
    answer = read_csv_answer(upload(client, BATCH, first_thousand, "test.csv"), "ImageId,Label")
    pd.testing.assert_frame_equal(answer, labelled_answer.iloc[:1000])


@pytest.mark.dataset
def test_batch_of_kaggle_size_is_answered_in_one_request(client, unlabelled_csv, labelled_answer):
    header, rows = unlabelled_csv.split(b"\n", 1)
    lines = rows.rstrip(b"\n").split(b"\n")
    kaggle_sized = b"\n".join([header, *(lines * 3)[:KAGGLE_TEST_ROWS]]) + b"\n"
    assert len(kaggle_sized) > 50_000_000  # as large as the real Kaggle file
    answer = read_csv_answer(upload(client, BATCH, kaggle_sized, "test.csv"), "ImageId,Label")
    assert answer["ImageId"].tolist() == list(range(1, KAGGLE_TEST_ROWS + 1))
    expected = np.tile(labelled_answer["Label"].to_numpy(), 3)[:KAGGLE_TEST_ROWS]
    assert (answer["Label"].to_numpy() == expected).all()


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"pixels": DIGIT_PIXELS[:783]}, "pixels: List should have at least 784 items after validation, not 783"),
        ({"pixels": [*DIGIT_PIXELS[:100], -1, *DIGIT_PIXELS[101:]]}, "pixel 100 is -1.0, outside 0–255"),
        ({"pixels": [*DIGIT_PIXELS[:783], 256]}, "pixel 783 is 256.0, outside 0–255"),
        ({"pixels": ["white", *DIGIT_PIXELS[1:]]}, "pixels.0: Input should be a valid number"),
        ({"pixels": DIGIT_PIXELS, "image": DIGIT_PNG_BASE64}, "give exactly one of `pixels` or `image`"),
        ({}, "give exactly one of `pixels` or `image`"),
        ({"pixels": DIGIT_PIXELS, "colour": "red"}, "colour: unknown field"),
        ("seven", "body: Input should be a valid dictionary or instance of ImageInput"),
        ([{"pixels": DIGIT_PIXELS}, {"pixels": [0] * 10}], "1.pixels: List should have at least 784 items"),
        ({"image": "not base64!"}, "`image` is not valid base64"),
        ([], "the list of inputs is empty"),
    ],
    ids=["783 pixels", "-1", "256", "text", "both", "neither", "unknown field", "string", "bad item", "base64", "[]"],
)
def test_invalid_json_input_is_422_naming_the_problem(client, payload, message):
    assert_error(client.post(PATH, json=payload), 422, "invalid_input", message)


def test_nan_pixel_is_422(client):
    text = '{"pixels": [' + ", ".join(["0"] * 500 + ["NaN"] + ["0"] * 283) + "]}"
    assert_error(post_json_text(client, PATH, text), 422, "invalid_input", "pixel 500 is nan, outside 0–255")


def test_json_syntax_error_is_400(client):
    assert_error(post_json_text(client, PATH, '{"pixels": [0, 0,'), 400, "invalid_json", "the body is not valid JSON")


def test_empty_body_is_422(client):
    assert_error(post_json_text(client, PATH, ""), 422, "invalid_input", "the request body is empty")


def test_other_media_types_are_415(client):
    response = client.post(PATH, content=b"7", headers={"content-type": "text/plain"})
    assert_error(
        response,
        415,
        "unsupported_media_type",
        "send application/json, application/octet-stream or multipart/form-data, not text/plain",
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"this is a text file, not a picture\n", "not a recognised image format (send PNG, JPEG, GIF, BMP, WebP"),
        (noise_png(100)[:5_000], "could not decode image (truncated or corrupt)"),
        (png_bytes(np.full((28, 28), 255, np.uint8)), "the image contains no visible digit"),
    ],
    ids=["text file", "truncated png", "blank page"],
)
def test_unusable_upload_is_422_invalid_image(client, data, message):
    assert_error(upload(client, PATH, data), 422, "invalid_image", message)


def test_unusable_image_in_a_list_names_the_item(client):
    items = [{"pixels": DIGIT_PIXELS}, {"image": base64.b64encode(b"GIF89a, or so it says").decode()}]
    assert_error(client.post(PATH, json=items), 422, "invalid_image", "item 1: ")


def test_empty_upload_and_missing_file_field_are_422(client):
    assert_error(upload(client, PATH, b"", "seven.png"), 422, "invalid_input", "the uploaded file `seven.png` is empty")
    response = upload(client, PATH, png_bytes(np.zeros((28, 28), np.uint8)), field="image")
    assert_error(response, 422, "invalid_input", "expected a file in the multipart field `file` (fields sent: image)")


def test_image_over_max_image_pixels_is_413(client):
    huge = png_bytes(np.zeros((6000, 6000), np.uint8))  # 36 MP of black compresses to a few kB
    response = upload(client, PATH, huge)
    assert_error(response, 413, "too_large", "image is 6000×6000 = 36000000 pixels, more than the limit of 25000000")


def test_tight_pixel_limit_counts_width_times_height(tight_client):
    response = upload(tight_client, PATH, png_bytes(np.zeros((100, 101), np.uint8)))
    assert_error(response, 413, "too_large", "image is 101×100 = 10100 pixels, more than the limit of 10000")


def test_image_over_max_image_bytes_is_413_as_upload_and_as_base64(tight_client):
    data = noise_png(100)  # about 10 kB: over MAX_IMAGE_BYTES (2,000), under MAX_BODY_BYTES (50,000)
    assert_error(upload(tight_client, PATH, data), 413, "too_large", "larger than the limit of 2,000 bytes")
    response = tight_client.post(PATH, json={"image": base64.b64encode(data).decode()})
    assert_error(response, 413, "too_large", "the image is larger than the limit of 2,000 bytes")


def test_body_over_max_body_bytes_is_413_before_it_is_read(tight_client):
    too_big = b"[" + b"0," * 30_000 + b"0]"
    response = post_json_text(tight_client, PATH, too_big)
    assert response.request.headers["content-length"] == str(len(too_big))
    assert_error(response, 413, "too_large", "request body is larger than the limit of 50,000 bytes (MAX_BODY_BYTES)")


def test_chunked_body_without_length_is_cut_off_at_the_limit(tight_client):
    def chunks():
        yield b'{"pixels": ['
        for _ in range(1_000):
            yield b"0, " * 100

    response = tight_client.post(PATH, content=chunks(), headers={"content-type": "application/json"})
    assert "content-length" not in response.request.headers
    assert_error(response, 413, "too_large", "request body is larger than the limit of 50,000 bytes")


def test_list_over_max_list_items_is_413(tight_client):
    response = tight_client.post(PATH, json=[{"pixels": DIGIT_PIXELS}] * 3)
    assert_error(response, 413, "too_large", "3 inputs in one request; the limit is 2 (MAX_LIST_ITEMS)")


@pytest.fixture(scope="module")
def six_rows() -> pd.DataFrame:
    return pd.read_csv(MNIST_TEST, nrows=6)


def test_batch_refuses_wrong_columns_naming_them(client, six_rows):
    frame = six_rows.rename(columns={"pixel783": "colour"})
    response = upload(client, BATCH, csv_bytes(frame), "test.csv")
    assert_error(response, 422, "invalid_csv", "unexpected columns ['colour']; missing columns ['pixel783']")


def test_batch_refuses_a_non_numeric_cell_naming_row_and_column(client, six_rows):
    frame = six_rows.astype(object)
    frame.loc[2, "pixel5"] = "dark"
    response = upload(client, BATCH, csv_bytes(frame), "test.csv")
    assert_error(response, 422, "invalid_csv", "row 3, column pixel5: 'dark' is not a number in 0–255")


def test_batch_refuses_header_only_and_non_csv_files(client, six_rows):
    response = upload(client, BATCH, csv_bytes(six_rows.iloc[:0]), "test.csv")
    assert_error(response, 422, "invalid_csv", "the CSV has a header but no rows")
    assert_error(upload(client, BATCH, noise_png(28)), 422, "invalid_csv", "the file is not a readable CSV")


def test_batch_over_max_csv_rows_is_413(tight_client, six_rows):
    response = upload(tight_client, BATCH, csv_bytes(six_rows), "test.csv")
    assert_error(response, 413, "too_large", "the CSV has 6 rows; the limit is 5 (MAX_CSV_ROWS)")


def test_batch_without_a_file_field_is_422(client):
    response = client.post(BATCH, files={"csv": ("test.csv", b"label,pixel0\n", "text/csv")})
    assert_error(response, 422, "invalid_input", "expected a file in the multipart field `file` (fields sent: csv)")
