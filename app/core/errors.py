"""One error policy for the whole API.

Client mistakes become a 4xx whose JSON body always has the same shape:
`{"detail": "<what is wrong>", "code": "<stable machine-readable code>"}` — plus `errors`, a list
of `{"field", "message"}`, for request validation. Anything unexpected is logged with its
traceback and answered with a generic 500: it is a bug, and its details stay in the log.

Under /v2 (the Open Inference Protocol) the same errors keep their status but take that
protocol's shape, `{"error": "<what is wrong>"}`, which its clients (tritonclient, KServe's) parse.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from app.core.request_context import CLIENT_CLOSED_REQUEST

logger = logging.getLogger("dlserve")


class ApiError(Exception):
    """An expected failure with a status code, a stable code and a message for the client."""

    def __init__(
        self, status_code: int, code: str, detail: str, *, headers: dict[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(detail)
        self.status_code, self.code, self.detail, self.headers, self.extra = status_code, code, detail, headers, extra


V2_PREFIX = "/v2"


def error_body(detail: str, code: str, **extra: Any) -> dict[str, Any]:
    return {"detail": detail, "code": code, **extra}


def speaks_v2(path: str, root_path: str = "") -> bool:
    """Whether a request path belongs to the Open Inference Protocol (its errors are {"error": ...})."""
    path = path.removeprefix(root_path.rstrip("/")) if root_path else path
    return path == V2_PREFIX or path.startswith(V2_PREFIX + "/")


def error_content(path: str, root_path: str, detail: str, code: str, **extra: Any) -> dict[str, Any]:
    """The error body for a request at `path`: ours, or the v2 protocol's `{"error": detail}`."""
    return {"error": detail} if speaks_v2(path, root_path) else error_body(detail, code, **extra)


def _content(request: Request, detail: str, code: str, **extra: Any) -> dict[str, Any]:
    return error_content(request.url.path, request.scope.get("root_path", ""), detail, code, **extra)


def _field_path(loc: tuple[Any, ...]) -> str:
    # "one"/"many" are the tags of one_or_many() unions: noise for the client.
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "one", "many")]
    return ".".join(parts) or "body"


def validation_errors(errors: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Pydantic's error list as [{"field": "pixels.3", "message": "..."}]."""
    out = []
    for err in errors:
        message = err.get("msg", "invalid value")
        if err.get("type") == "extra_forbidden":
            message = "unknown field"
        out.append({"field": _field_path(tuple(err.get("loc", ()))), "message": message})
    return out


def summarize(errors: list[dict[str, str]]) -> str:
    shown = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    return shown + (f"; and {len(errors) - 5} more" if len(errors) > 5 else "")


_CODES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    408: "timeout",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    503: "unavailable",
}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def handle_api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(_content(request, exc.detail, exc.code, **exc.extra), exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def handle_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = validation_errors(list(exc.errors()))
        return JSONResponse(_content(request, summarize(errors), "invalid_input", errors=errors), 422)

    @app.exception_handler(StarletteHTTPException)
    async def handle_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _CODES.get(exc.status_code, "error")
        return JSONResponse(_content(request, str(exc.detail), code), exc.status_code, headers=exc.headers)

    @app.exception_handler(ClientDisconnect)
    async def handle_client_disconnect(request: Request, exc: ClientDisconnect) -> Response:
        # The client left before sending its whole body: nobody is there to read an answer, and it is
        # not a server error. 499 is what the metrics and the one request log line then record.
        return Response(status_code=CLIENT_CLOSED_REQUEST)

    @app.exception_handler(Exception)
    async def handle_unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse(_content(request, "internal server error", "internal_error"), 500)
