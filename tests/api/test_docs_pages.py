"""/docs, /redoc and their assets come from the service itself: no CDN, a strict CSP, our favicon."""

import hashlib
import json
import re

import pytest
from fastapi.testclient import TestClient

from app.api.routes.docs import STATIC_DIR
from app.core.config import Settings
from app.main import create_app
from tests.api.conftest import MODELS

VENDOR = STATIC_DIR / "vendor"
SOURCES = json.loads((VENDOR / "SOURCES.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("page", "assets"),
    [
        (
            "/docs",
            ["/static/vendor/swagger-ui-dist/swagger-ui-bundle.js", "/static/vendor/swagger-ui-dist/swagger-ui.css"],
        ),
        ("/redoc", ["/static/vendor/redoc/redoc.standalone.js"]),
    ],
)
def test_docs_pages_load_their_assets_from_the_service_only(client, page, assets):
    response = client.get(page)
    assert response.status_code == 200
    urls = re.findall(r'(?:src|href)="([^"]+)"', response.text)
    assert sorted(urls) == sorted([*assets, "/static/favicon.svg"])
    assert "https://" not in response.text and "http://" not in response.text
    assert "default-src 'self'" in response.headers["content-security-policy"]
    for url in urls:
        served = client.get(url)
        assert served.status_code == 200, url
        assert served.content == (STATIC_DIR / url.removeprefix("/static/")).read_bytes()


def test_swagger_has_no_online_validator(client):
    assert '"validatorUrl": null' in client.get("/docs").text


def test_favicon_is_ours(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/svg+xml"
    assert response.content == (STATIC_DIR / "favicon.svg").read_bytes()


def test_docs_urls_follow_the_root_path_behind_a_proxy():
    # No `with`: the lifespan (model loading) is not needed to render a page.
    proxied = TestClient(create_app(Settings(model_dir=MODELS, device="cpu")), root_path="/dlserve")
    page = proxied.get("/docs").text
    assert "url: '/dlserve/openapi.json'" in page
    assert 'src="/dlserve/static/vendor/swagger-ui-dist/swagger-ui-bundle.js"' in page


@pytest.mark.parametrize("package", sorted(SOURCES))
def test_vendored_files_are_exactly_the_pinned_packages(package):
    entry = SOURCES[package]
    assert re.fullmatch(r"\d+\.\d+\.\d+", entry["version"])
    assert "LICENSE" in entry["files"]  # the licence travels with the code it covers
    for name, digest in entry["files"].items():
        assert hashlib.sha256((VENDOR / package / name).read_bytes()).hexdigest() == digest, name
    on_disk = {path.name for path in (VENDOR / package).iterdir()}
    assert on_disk == set(entry["files"])
