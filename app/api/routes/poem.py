"""POST /generate/poem and /generate/poem/stream — Tang-style poems (the REST door).

The request is validated by PoemRequest, resolved by app/inference/poems.py (every refusal is a 4xx
before anything is written or streamed), and written whole or streamed as server-sent events.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from app.api.deps import ServiceDep, SettingsDep, per_client
from app.api.streams import ClosingStreamingResponse
from app.inference import poems
from app.schemas.poem import Poem, PoemRequest

# Each poem, streamed or not, holds one of its client's poem slots until its last character is sent.
router = APIRouter(prefix="/generate/poem", tags=["poem"], dependencies=[Depends(per_client("poem"))])


@router.post("", response_model=Poem, response_model_exclude_none=True)
async def generate_poem(request: PoemRequest, http: Request, service: ServiceDep, settings: SettingsDep) -> Poem:
    """Write a poem of exactly `line_num` lines of `line_length` characters, alternately ending in ，and 。,
    rhyming under `rhyme` and keeping the 平仄 of `tones`; a request no pattern can satisfy is a 422 saying why."""
    serving = service.current("poem")  # this version writes the poem, even if a reload swaps in another
    http.state.model, http.state.batch_size = "poem", 1
    poem = poems.PoemStream(serving, poems.prepare(serving, request, settings))
    result = await poem.whole()
    http.state.first_char_ms = poem.first_char_ms
    return Poem(**result, model_version=serving.version)


def _event(name: str, payload: dict) -> str:
    return f"event: {name}\ndata: {json.dumps(payload, ensure_ascii=False)}\n\n"


@router.post(
    "/stream",
    response_class=StreamingResponse,
    responses={200: {"description": "Server-sent events: `char` per character, then `done` (or `error`)",
                     "content": {"text/event-stream": {}}}},
)  # fmt: skip
async def stream_poem(
    request: PoemRequest, http: Request, service: ServiceDep, settings: SettingsDep
) -> StreamingResponse:
    """The same poem as /generate/poem, as server-sent events: one `char` event per character, then `done`."""
    serving = service.current("poem")
    http.state.model, http.state.batch_size = "poem", 1
    # A bad request, or a full queue, is still a plain 4xx/503: both come before the stream opens.
    poem = poems.PoemStream(serving, poems.prepare(serving, request, settings), streaming=True)

    async def events() -> AsyncIterator[str]:
        async for event in poem.events():
            if isinstance(event, poems.PoemChar):
                http.state.first_char_ms = poem.first_char_ms
                yield _event("char", {"index": event.index, "char": event.char})
            elif isinstance(event, poems.PoemDone):
                yield _event("done", {**event.poem, "model_version": serving.version})
            else:
                yield _event("error", {"detail": event.detail, "code": "internal_error"})

    return ClosingStreamingResponse(events(), on_close=poem.close, media_type="text/event-stream",
                                    headers={"Cache-Control": "no-cache"})  # fmt: skip
