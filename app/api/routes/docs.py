"""GET /docs (Swagger UI) and /redoc, served with the app's own copies of their files.

FastAPI's default pages load Swagger UI and ReDoc from a public CDN, so they are blank on a
machine without internet. These pages point at app/static/vendor/ instead (pinned npm packages,
fetched by tools/fetch_docs_assets.py), and at our own favicon.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

STATIC_DIR = Path(__file__).resolve().parents[2] / "static"
STATIC_URL = "/static"
FAVICON = "favicon.svg"

# The pages may load nothing from outside the service: ReDoc's sidebar, for one, would fetch a logo
# from its vendor's CDN. Inline scripts and styles are how both tools start; blob: workers are ReDoc's search.
# No other site may show them in a frame (clickjacking: a page that overlays "Try it out" with its own buttons).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "
    "frame-ancestors 'none'"
)
# X-Frame-Options says the same to browsers too old for frame-ancestors.
PAGE_HEADERS = {"Content-Security-Policy": CONTENT_SECURITY_POLICY, "X-Frame-Options": "DENY"}

router = APIRouter(include_in_schema=False)


def _self_contained(page: HTMLResponse) -> HTMLResponse:
    page.headers.update(PAGE_HEADERS)
    return page


def _prefix(request: Request) -> str:
    # Behind a proxy that mounts the app under a path (uvicorn --root-path), every URL needs it.
    return request.scope.get("root_path", "").rstrip("/")


@router.get("/docs")
def read_swagger_ui(request: Request) -> HTMLResponse:
    root = _prefix(request)
    vendor = f"{root}{STATIC_URL}/vendor/swagger-ui-dist"
    return _self_contained(
        get_swagger_ui_html(
            openapi_url=f"{root}{request.app.openapi_url}",
            title=f"{request.app.title} — Swagger UI",
            swagger_js_url=f"{vendor}/swagger-ui-bundle.js",
            swagger_css_url=f"{vendor}/swagger-ui.css",
            swagger_favicon_url=f"{root}{STATIC_URL}/{FAVICON}",
            # No online spec validator: it would call a public service and show a broken badge offline.
            swagger_ui_parameters={"validatorUrl": None},
        )
    )


@router.get("/redoc")
def read_redoc(request: Request) -> HTMLResponse:
    root = _prefix(request)
    return _self_contained(
        get_redoc_html(
            openapi_url=f"{root}{request.app.openapi_url}",
            title=f"{request.app.title} — ReDoc",
            redoc_js_url=f"{root}{STATIC_URL}/vendor/redoc/redoc.standalone.js",
            redoc_favicon_url=f"{root}{STATIC_URL}/{FAVICON}",
            with_google_fonts=False,  # ReDoc falls back to the system's sans-serif fonts
        )
    )


@router.api_route("/favicon.ico", methods=["GET", "HEAD"])
def read_favicon() -> FileResponse:
    """Browsers ask for /favicon.ico on every page; answer with ours rather than a logged 404."""
    return FileResponse(STATIC_DIR / FAVICON, media_type="image/svg+xml")
