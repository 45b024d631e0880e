"""Refuse request bodies that are too large or too slow, before reading them whole.

A declared Content-Length over the limit is answered 413 at once, without reading a byte. A
body without one (chunked) is counted as it streams in and cut off with 413 as soon as it
passes the limit, so a client cannot make the server buffer gigabytes. And a body must arrive
whole within BODY_TIMEOUT_S: one that trickles in (slowloris) is cut off with 408 instead of
holding a connection and its buffers forever.
"""

from __future__ import annotations

import asyncio
import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.errors import ErrorShapes

_BODILESS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})


class BodyTooLarge(HTTPException):
    # An HTTPException, because FastAPI turns any other error raised while it parses a body (a pydantic-model
    # parameter) into 400 "There was an error parsing the body"; this one it passes on to our 413 handler.
    def __init__(self, max_body_bytes: int) -> None:
        super().__init__(413, f"request body is larger than the limit of {max_body_bytes:,} bytes (MAX_BODY_BYTES)")


class BodyTooSlow(HTTPException):
    def __init__(self, timeout_s: float) -> None:
        super().__init__(408, f"the request body did not arrive within {timeout_s:g} s (BODY_TIMEOUT_S)")


def _has_body(scope: Scope, declared: bytes | None) -> bool:
    if declared is not None:
        return declared != b"0"
    return scope["method"] not in _BODILESS  # no length declared: a chunked body may follow


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, shapes: ErrorShapes, max_body_bytes: int, body_timeout_s: float = 30.0) -> None:
        self.app, self.shapes, self.max_body_bytes, self.body_timeout_s = app, shapes, max_body_bytes, body_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = next((value for key, value in scope["headers"] if key == b"content-length"), None)
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._reject(scope, send, BodyTooLarge(self.max_body_bytes))
            return
        if not _has_body(scope, declared):
            await self.app(scope, receive, send)
            return
        # The HTTP server delivers no more than a declared length: only a chunked body needs counting.
        count = declared is None or not declared.isdigit()
        deadline = asyncio.get_running_loop().time() + self.body_timeout_s
        received = 0
        body_done = False
        response_started = False

        async def guarded_receive() -> Message:
            nonlocal received, body_done
            if body_done:  # after the body, receive() waits for a disconnect: that wait has no deadline
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise BodyTooSlow(self.body_timeout_s) from None
            if message["type"] == "http.request":
                if count:
                    received += len(message.get("body", b""))
                    if received > self.max_body_bytes:
                        raise BodyTooLarge(self.max_body_bytes)
                body_done = not message.get("more_body", False)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, guarded_receive, tracking_send)
        except (BodyTooLarge, BodyTooSlow) as refusal:  # raised where no handler turned it into an answer
            if not response_started:
                await self._reject(scope, send, refusal)

    async def _reject(self, scope: Scope, send: Send, refusal: HTTPException) -> None:
        code = "too_large" if refusal.status_code == 413 else "timeout"
        content = self.shapes.content(scope, refusal.detail, code)
        body = json.dumps(content).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": refusal.status_code, "headers": headers})
        await send({"type": "http.response.body", "body": body})
