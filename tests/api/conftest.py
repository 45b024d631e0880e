"""The app under test: real HTTP through the ASGI app, with the committed models loaded on CPU."""

import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app

ROOT = Path(__file__).resolve().parents[2]
# DLSERVE_TEST_MODELS points the suite at another model folder (e.g. quick-trained models while the real ones train).
MODELS = Path(os.environ.get("DLSERVE_TEST_MODELS", ROOT / "models"))
DATA = ROOT / "data"


def make_client(**settings) -> TestClient:
    options = {"model_dir": MODELS, "device": "cpu"} | settings
    return TestClient(create_app(Settings(**options)), raise_server_exceptions=False)


@pytest.fixture(scope="session")
def client():
    with make_client() as test_client:  # the `with` runs the lifespan: models load once per session
        yield test_client


# Every input limit set small, so each one can be reached with a small request.
TIGHT_LIMITS = {
    "max_body_bytes": 50_000,
    "max_image_bytes": 2_000,
    "max_image_pixels": 10_000,
    "max_csv_rows": 5,
    "max_list_items": 2,
    "max_theme_chars": 5,
}


@pytest.fixture(scope="session")
def tight_client():
    with make_client(**TIGHT_LIMITS) as test_client:
        yield test_client


def assert_error(response, status: int, code: str, *fragments: str) -> dict:
    """Every client error has the same JSON shape: detail + code (+ errors for validation)."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code, body
    for fragment in fragments:
        assert fragment in body["detail"], (fragment, body["detail"])
    return body
