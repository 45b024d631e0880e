"""Refuse oversized request bodies before reading them whole.

A declared Content-Length over the limit is answered 413 at once, without reading a byte. A
body without one (chunked) is counted as it streams in and cut off with 413 as soon as it
passes the limit, so a client cannot make the server buffer gigabytes.
"""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import error_body


def _detail(max_body_bytes: int) -> str:
    return f"request body is larger than the limit of {max_body_bytes:,} bytes (MAX_BODY_BYTES)"


class BodyTooLarge(HTTPException):
    # An HTTPException, because FastAPI turns any other error raised while it parses a body (a pydantic-model
    # parameter) into 400 "There was an error parsing the body"; this one it passes on to our 413 handler.
    def __init__(self, max_body_bytes: int) -> None:
        super().__init__(413, _detail(max_body_bytes))


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app, self.max_body_bytes = app, max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = next((value for key, value in scope["headers"] if key == b"content-length"), None)
        if declared is not None and declared.isdigit():
            if int(declared) > self.max_body_bytes:
                await self._reject(send)
                return
            # The HTTP server delivers no more than a declared length: nothing left to count.
            await self.app(scope, receive, send)
            return
        received = 0
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise BodyTooLarge(self.max_body_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if not response_started:
                await self._reject(send)

    async def _reject(self, send: Send) -> None:
        body = json.dumps(error_body(_detail(self.max_body_bytes), "too_large")).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})
