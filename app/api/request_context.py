"""Per-request bookkeeping: a request id, one log line, the HTTP metrics, and the headers every answer carries.

A pure ASGI middleware (not BaseHTTPMiddleware) so streamed answers pass through untouched.
Routes add what only they know — the model and batch size — to `request.state`, which Starlette
keeps in `scope["state"]`, where this middleware reads it back once the answer is sent. It runs
for every request, so it does no more than it must: one pass over the headers, cached metric
children, and a log record only when the level lets it through.

A client that goes away before its request is read whole is normal traffic, not a server error:
the app answers it with status 499 (nginx's "client closed request"), which is what the metrics
and the single log line record. A request the server gives up on — uvicorn cancels what is still
running GRACEFUL_TIMEOUT_S after a SIGTERM — is answered 503 `shutting_down` with Retry-After here,
in the service's shape, instead of uvicorn's bare text 500: the client did nothing wrong, and the
same request sent again (to another replica, or after the restart) can work.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import Unavailable
from app.core.logging_setup import log_access
from app.core.metrics import Metrics

if TYPE_CHECKING:  # app/api/errors.py imports this module
    from app.api.errors import ErrorShapes

# A client's own id is echoed only if it is short and plain, so it cannot forge log lines.
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
CLIENT_CLOSED_REQUEST = 499
# On every answer: no browser may guess a type other than the one sent (a JSON error rendered as HTML,
# say), and no page of ours tells another site which URL it came from (a request id or a query in it).
SAFE_HEADERS = ((b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"))


def safe_request_id(incoming: str | None) -> str:
    """The client's own request id when it is safe to echo and log, else a new one (HTTP and gRPC alike)."""
    return incoming if incoming is not None and _SAFE_ID.match(incoming) else secrets.token_hex(16)


def request_id_of(scope: Scope) -> str:
    for key, value in scope["headers"]:
        if key == b"x-request-id":
            return safe_request_id(value.decode("latin-1"))
    return safe_request_id(None)


def shutting_down() -> Unavailable:
    return Unavailable(
        "the service is shutting down and this request did not finish within GRACEFUL_TIMEOUT_S; send it again",
        code="shutting_down",
        retry_after_s=1,
    )


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics, shapes: ErrorShapes) -> None:
        self.app, self.metrics, self.shapes = app, metrics, shapes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        id_header = (b"x-request-id", request_id.encode())
        started = time.perf_counter()
        status = 500  # if the app dies before answering, that is what the client gets
        began = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, began
            if message["type"] == "http.response.start":
                status, began = message["status"], True
                message["headers"] = [*message.get("headers", ()), id_header, *SAFE_HEADERS]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except asyncio.CancelledError:
            if began:  # the answer is under way (a stream): all that is left is to end it
                raise
            # Answered, not re-raised: the task ends here either way, and its end is this answer, not a traceback.
            answer = self.shapes.answer(scope, shutting_down())
            answer.headers["connection"] = "close"
            await answer(scope, receive, send_with_id)
        finally:
            duration = time.perf_counter() - started
            route = scope.get("route")
            endpoint = getattr(route, "path", None) or "unmatched"  # the template, never the raw path
            self.metrics.observe_request(endpoint, scope["method"], status, duration)
            state, method, path = scope["state"], scope["method"], scope["path"]
            log_access(
                f"{method} {path} {status} {duration * 1000:.1f} ms",
                {"request_id": request_id, "method": method, "path": path, "status": status,
                 "duration_ms": round(duration * 1000, 2), "model": state.get("model"),
                 "batch_size": state.get("batch_size"), "first_char_ms": state.get("first_char_ms")},
            )  # fmt: skip
