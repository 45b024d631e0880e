"""A streamed answer that always says when it is over, however it ended (done, or the client gone)."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send


class ClosingStreamingResponse(StreamingResponse):
    """A StreamingResponse that calls `on_close` once sending stops, whatever stopped it.

    When a client goes away mid-stream, Starlette stops iterating the body but does not close it (and
    runs no background task), so the work behind it would go on for nobody until the garbage collector
    came by: a poem would keep its row in the scheduler to its last character.
    """

    def __init__(self, content: Any, *, on_close: Callable[[], Awaitable[None] | None], **options: Any) -> None:
        super().__init__(content, **options)
        self.on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            closed = self.on_close()
            if inspect.isawaitable(closed):
                await closed
