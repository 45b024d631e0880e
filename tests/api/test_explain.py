"""explain=true on /predict/digit and /predict/fashion: the saliency map and the image the model saw."""

import numpy as np
import pytest

from tests.api.conftest import DATA, assert_error, make_client
from tests.api.helpers import upload
from training.data.images import read_image_csv
from training.image_examples import DIGIT_PIXELS, DIGIT_PNG_BASE64, FASHION_PIXELS


def explained(client, path: str, **request) -> dict:
    response = client.post(f"{path}?explain=true", **request)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize(("path", "pixels"), [("/predict/digit", DIGIT_PIXELS), ("/predict/fashion", FASHION_PIXELS)])
def test_explain_adds_a_saliency_map_and_the_input(client, path, pixels):
    plain = client.post(path, json={"pixels": pixels}).json()
    answer = explained(client, path, json={"pixels": pixels})
    assert {k: v for k, v in answer.items() if k not in ("saliency", "input")} == plain
    saliency = np.array(answer["saliency"])
    assert saliency.shape == (28, 28) and saliency.min() >= 0 and saliency.max() == 1.0
    # A Kaggle row is used as it is: the image the model saw is that row.
    assert np.array_equal(np.array(answer["input"]).reshape(-1), np.array(pixels))


def test_without_explain_the_answer_has_neither(client):
    answer = client.post("/predict/digit", json={"pixels": DIGIT_PIXELS}).json()
    assert "saliency" not in answer and "input" not in answer


def test_the_input_of_an_uploaded_drawing_is_the_normalized_image(client):
    answer = explained(client, "/predict/digit", json={"image": DIGIT_PNG_BASE64})
    seen = np.array(answer["input"])
    assert seen.shape == (28, 28) and seen.max() == 255 and seen[:, :4].max() == 0  # light ink, centred, black border
    # Sending the normalized image back as pixels gives the same answer.
    again = client.post("/predict/digit", json={"pixels": seen.reshape(-1).tolist()}).json()
    assert again["label"] == answer["label"]


def probability_of(client, images: np.ndarray, labels: list[int]) -> np.ndarray:
    answers = client.post("/predict/digit", json=[{"pixels": image.reshape(-1).tolist()} for image in images]).json()
    return np.array([answer["probabilities"][label] for answer, label in zip(answers, labels, strict=True)])


def test_blanking_the_most_salient_pixels_hurts_far_more_than_blanking_random_ones(client):
    """The README's check, on 48 real MNIST test digits: the map points at what the model uses."""
    images, _ = read_image_csv(DATA / "digit-recognizer" / "test.csv", require_label=True)
    images = images[:48].astype(np.float64)
    answers = []
    for chunk in np.split(images, 3):  # MAX_EXPLAIN_ITEMS is 16
        answers += explained(client, "/predict/digit", json=[{"pixels": image.reshape(-1).tolist()} for image in chunk])
    labels = [answer["label"] for answer in answers]
    count = round(0.1 * 784)
    rng = np.random.default_rng(0)
    salient, scattered = images.copy(), images.copy()
    for i, answer in enumerate(answers):
        top = np.argsort(-np.array(answer["saliency"]), axis=None, kind="stable")[:count]
        salient[i].reshape(-1)[top] = 0
        scattered[i].reshape(-1)[rng.choice(784, size=count, replace=False)] = 0
    before = np.array([answer["probabilities"][label] for answer, label in zip(answers, labels, strict=True)])
    salient_drop = (before - probability_of(client, salient, labels)).mean()
    random_drop = (before - probability_of(client, scattered, labels)).mean()
    assert salient_drop > 0.3 and salient_drop > 10 * random_drop, (salient_drop, random_drop)


def test_explain_works_for_lists_and_raw_bytes(client):
    rows = np.array([DIGIT_PIXELS, DIGIT_PIXELS], dtype=np.uint8)
    answers = explained(
        client, "/predict/digit", content=rows.tobytes(), headers={"Content-Type": "application/octet-stream"}
    )
    assert len(answers) == 2 and all(len(a["saliency"]) == 28 for a in answers)
    assert answers[0] == answers[1]


def test_explain_is_limited_by_max_explain_items():
    with make_client(max_explain_items=2) as small:
        response = small.post("/predict/digit?explain=true", json=[{"pixels": DIGIT_PIXELS}] * 3)
        assert_error(
            response, 413, "too_large", "3 images to explain in one request; the limit is 2 (MAX_EXPLAIN_ITEMS)"
        )
        assert small.post("/predict/digit", json=[{"pixels": DIGIT_PIXELS}] * 3).status_code == 200


def test_explain_must_be_a_boolean(client):
    response = client.post("/predict/digit?explain=maybe", json={"pixels": DIGIT_PIXELS})
    assert_error(response, 422, "invalid_input", "explain")


def test_explain_with_a_bad_image_is_the_same_4xx(client):
    response = upload(client, "/predict/fashion?explain=true", b"not an image", "notes.txt")
    assert_error(response, 422, "invalid_image", "not a recognised image format")
