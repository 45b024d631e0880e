"""GET / — the playground: a page where anyone can try the four models (app/static/playground/).

Plain HTML, CSS and JavaScript modules served by the app itself: no CDN, no build step. Its
Content-Security-Policy lets it load and call nothing but this service (blob: for the preview of
a photo the user picked, data: for canvas images).
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from app.api.routes.docs import STATIC_DIR

PAGE = STATIC_DIR / "playground" / "index.html"
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)

router = APIRouter(include_in_schema=False)


@router.get("/")
def read_playground() -> FileResponse:
    """The playground page; its scripts and styles come from /static/playground/."""
    return FileResponse(
        PAGE,
        media_type="text/html",
        headers={
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "X-Frame-Options": "DENY",
            "Cache-Control": "no-cache",
        },
    )
