"""Requests in real formats (PNG files, base64, Kaggle CSVs, raw JSON text) and checks of the answers.

Shared by the API tests of the four models, so each test file holds only what it tests.
"""

from __future__ import annotations

import base64
import io
import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pandas as pd
from fastapi.testclient import TestClient
from PIL import Image

DRAWING_SIDE = 280  # ten times a dataset image: what a canvas or a phone photo of one might be
UPLOAD_WORKERS = 4


def png_bytes(image: np.ndarray | Image.Image) -> bytes:
    """A real PNG file of a grayscale image (a uint8 array or a Pillow image)."""
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image.astype(np.uint8))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def as_drawing(image: np.ndarray) -> Image.Image:
    """A dataset image as a user would draw it: dark on white (255 - x), upscaled ten times with BICUBIC."""
    return Image.fromarray((255 - image).astype(np.uint8)).resize((DRAWING_SIDE, DRAWING_SIDE), Image.BICUBIC)


def noise_png(side: int, seed: int = 0) -> bytes:
    """A PNG of random pixels: it does not compress, so its size in bytes is about side²."""
    return png_bytes(np.random.default_rng(seed).integers(0, 256, (side, side), dtype=np.uint8))


def upload(client: TestClient, path: str, data: bytes, name: str = "image.png", field: str = "file") -> httpx.Response:
    """POST `data` as a multipart file upload, as a browser form or `curl -F file=@...` sends it."""
    return client.post(path, files={field: (name, data, "application/octet-stream")})


def post_json_text(client: TestClient, path: str, text: str | bytes) -> httpx.Response:
    """POST a JSON body as written, for what `json=` cannot produce (NaN, syntax errors)."""
    return client.post(path, content=text, headers={"content-type": "application/json"})


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def read_csv_answer(response: httpx.Response, header: str) -> pd.DataFrame:
    """A batch endpoint's answer: 200, a CSV download whose first line is `header`."""
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == 'attachment; filename="submission.csv"'
    assert response.text.split("\n", 1)[0] == header
    return pd.read_csv(io.StringIO(response.text))


def input_forms(pixels: list[int], png_base64: str) -> dict[str, dict]:
    """The same image in every form the image endpoints accept, as keyword arguments for `client.post`."""
    return {
        "json pixels": {"json": {"pixels": pixels}},
        "json base64 png": {"json": {"image": png_base64}},
        "json data url": {"json": {"image": "data:image/png;base64," + png_base64}},
        "multipart upload": {"files": {"file": ("drawing.png", base64.b64decode(png_base64), "image/png")}},
    }


def assert_classification(answer: dict, version: str, extra_keys: tuple[str, ...] = ()) -> int:
    """An image answer: the label is the most probable of ten classes whose probabilities sum to 1."""
    assert set(answer) == {"label", "confidence", "probabilities", "model_version", *extra_keys}
    probabilities = answer["probabilities"]
    assert len(probabilities) == 10
    assert all(0.0 <= p <= 1.0 for p in probabilities)
    assert abs(sum(probabilities) - 1.0) < 1e-4
    assert answer["label"] == int(np.argmax(probabilities))
    assert answer["confidence"] == probabilities[answer["label"]]
    assert answer["model_version"] == version
    return answer["label"]


def upload_accuracy(client: TestClient, path: str, images: np.ndarray, labels: np.ndarray) -> float:
    """Upload each image as a PNG file, every other one as a drawing (see `as_drawing`); the share classified right.

    Uploads run concurrently, as real clients would send them (the micro-batcher gathers them). An image the
    service refuses as unreadable (422 invalid_image: a few Fashion-MNIST items fill the whole frame, so no
    background shows) counts as a wrong answer; any other failure fails the test.
    """
    files = [png_bytes(as_drawing(image) if i % 2 else image) for i, image in enumerate(images)]
    with ThreadPoolExecutor(UPLOAD_WORKERS) as pool:
        responses = list(pool.map(lambda data: upload(client, path, data), files))
    refused = [r for r in responses if r.status_code != 200]
    assert all(r.status_code == 422 and r.json()["code"] == "invalid_image" for r in refused), refused[0].text
    predicted = np.array([r.json()["label"] if r.status_code == 200 else -1 for r in responses])
    return float((predicted == labels).mean())


def sample(images: np.ndarray, labels: np.ndarray, count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A fixed random sample of a test set (the same one every run)."""
    chosen = np.random.default_rng(seed).choice(len(images), count, replace=False)
    return images[chosen], labels[chosen]


def model_version(client: TestClient, name: str) -> str:
    return client.get(f"/models/{name}").json()["version"]


def read_events(response: httpx.Response) -> list[tuple[str, dict]]:
    """A text/event-stream body as (event name, parsed data) pairs."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    events = []
    for block in response.text.strip("\n").split("\n\n"):
        name, data = block.split("\n")
        assert name.startswith("event: ") and data.startswith("data: "), block
        events.append((name.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
    return events
