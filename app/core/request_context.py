"""Per-request bookkeeping: a request id, one log line, and the HTTP metrics.

A pure ASGI middleware (not BaseHTTPMiddleware) so streamed answers pass through untouched.
Routes add what only they know — the model and batch size — to `request.state`, which Starlette
keeps in `scope["state"]`, where this middleware reads it back once the answer is sent.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.metrics import Metrics

logger = logging.getLogger("dlserve.access")
# A client's own id is echoed only if it is short and plain, so it cannot forge log lines.
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers", [])).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500  # if the app dies before answering, that is what the client gets

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            duration = time.perf_counter() - started
            route = scope.get("route")
            endpoint = getattr(route, "path", None) or "unmatched"  # the template, never the raw path
            self.metrics.requests.labels(endpoint, scope["method"], str(status)).inc()
            self.metrics.latency.labels(endpoint).observe(duration)
            state = scope.get("state", {})
            logger.info(
                "%s %s %s %.1f ms", scope["method"], scope["path"], status, duration * 1000,
                extra={"request_id": request_id, "method": scope["method"], "path": scope["path"], "status": status,
                       "duration_ms": round(duration * 1000, 2), "model": state.get("model"),
                       "batch_size": state.get("batch_size")},
            )  # fmt: skip
