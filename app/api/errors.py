"""One error policy for every door: each typed failure (app/core/errors.py) gets its status and shape here.

Client mistakes become a 4xx whose JSON body has one shape: `{"detail": "<what is wrong>", "code":
"<stable machine-readable code>"}`, plus `errors`, a list of `{"field", "message"}`, for validation.
The Open Inference Protocol's door (the paths it is mounted under) answers the same failures in that
protocol's shape, `{"error": "<what is wrong>"}`, which its clients (tritonclient, KServe's) parse; it has
no 422, so a request its model cannot take is a 400 there. Anything unexpected is logged with its
traceback and answered with a generic 500: it is a bug, and its details stay in the log.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.types import Scope

from app.api.request_context import CLIENT_CLOSED_REQUEST
from app.core.errors import (
    BadRequest,
    Forbidden,
    InvalidInput,
    NotFound,
    ServiceError,
    TooLarge,
    TooManyRequests,
    Unauthorized,
    Unavailable,
    UnsupportedMediaType,
    field_errors,
    summarize,
)

logger = logging.getLogger("dlserve")

STATUS: dict[type[ServiceError], int] = {
    BadRequest: 400,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    TooLarge: 413,
    UnsupportedMediaType: 415,
    InvalidInput: 422,
    TooManyRequests: 429,
    Unavailable: 503,
}
PROTOCOL_STATUS = STATUS | {InvalidInput: 400}
# Codes for the framework's own refusals (no route, wrong method, the body limits of app/api/body_limit.py).
_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 404: "not_found", 405: "method_not_allowed",
               408: "timeout", 413: "too_large", 415: "unsupported_media_type", 422: "invalid_input"}  # fmt: skip


class ErrorShapes:
    """Which shape an answer takes: the protocol's under its prefixes, ours everywhere else."""

    def __init__(self, protocol_prefixes: tuple[str, ...]) -> None:
        self.protocol_prefixes = protocol_prefixes

    def speaks_protocol(self, scope: Scope) -> bool:
        path, root = scope.get("path", ""), scope.get("root_path", "").rstrip("/")
        path = path.removeprefix(root) if root else path
        return any(path == prefix or path.startswith(prefix + "/") for prefix in self.protocol_prefixes)

    def content(self, scope: Scope, detail: str, code: str, **extra: Any) -> dict[str, Any]:
        return {"error": detail} if self.speaks_protocol(scope) else {"detail": detail, "code": code, **extra}

    def status(self, scope: Scope, error: ServiceError) -> int:
        table = PROTOCOL_STATUS if self.speaks_protocol(scope) else STATUS
        return next(table[kind] for kind in type(error).__mro__ if kind in table)

    def answer(self, scope: Scope, error: ServiceError) -> JSONResponse:
        headers = {}
        if error.retry_after_s is not None:
            headers["Retry-After"] = str(error.retry_after_s)
        if isinstance(error, Unauthorized):
            headers["WWW-Authenticate"] = "APIKey"
        content = self.content(scope, error.detail, error.code, **error.extra)
        return JSONResponse(content, self.status(scope, error), headers=headers)


def install_error_handlers(app: FastAPI, shapes: ErrorShapes) -> None:
    @app.exception_handler(ServiceError)
    async def handle_service_error(request: Request, exc: ServiceError) -> JSONResponse:
        return shapes.answer(request.scope, exc)

    @app.exception_handler(RequestValidationError)
    async def handle_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = field_errors(list(exc.errors()))
        return shapes.answer(request.scope, InvalidInput(summarize(errors), errors=errors))

    @app.exception_handler(StarletteHTTPException)
    async def handle_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "error")
        content = shapes.content(request.scope, str(exc.detail), code)
        return JSONResponse(content, exc.status_code, headers=exc.headers)

    @app.exception_handler(ClientDisconnect)
    async def handle_client_disconnect(request: Request, exc: ClientDisconnect) -> Response:
        # Nobody is there to read an answer; 499 is what the metrics and the request log line then record.
        return Response(status_code=CLIENT_CLOSED_REQUEST)

    @app.exception_handler(Exception)
    async def handle_unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse(shapes.content(request.scope, "internal server error", "internal_error"), 500)
