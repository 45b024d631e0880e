"""The REST door of every text generator: `POST /generate/{name}` and `/generate/{name}/stream`.

The request is validated by PoemRequest, admitted by the data plane (the model and one of the caller's poem
slots, held until the poem's last character is sent, streamed or not), resolved by app/inference/poems.py
(every refusal is a 4xx before anything is written or streamed), and written whole or streamed as
server-sent events.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from app.api.security import client_identity
from app.api.streams import ClosingStreamingResponse
from app.inference import poems
from app.inference.dataplane import DataPlane
from app.models.repository import Entry
from app.schemas.model_meta import TEXT
from app.schemas.poem import Poem, PoemRequest

STREAM_RESPONSES: dict[int | str, dict[str, Any]] = {200: {
    "description": "Server-sent events: `char` per character, then `done` (or `error`)",
    "content": {"text/event-stream": {}}}}  # fmt: skip


def _event(name: str, payload: dict) -> str:
    return f"event: {name}\ndata: {json.dumps(payload, ensure_ascii=False)}\n\n"


async def write_poem(http: Request, name: str, request: PoemRequest) -> Poem:
    """`POST /generate/{name}`: the whole poem."""
    plane: DataPlane = http.app.state.plane
    async with plane.admit(name, client_identity(http), task=TEXT) as admission:
        with admission.hold() as serving:  # this version writes the poem, even if a reload swaps in another
            http.state.model, http.state.batch_size = name, 1
            poem = poems.PoemStream(serving, poems.prepare(serving, request, http.app.state.settings))
            result = await poem.whole()
            http.state.first_char_ms = poem.first_char_ms
            return Poem(**result, model_version=serving.version)


async def stream_poem(http: Request, name: str, request: PoemRequest) -> StreamingResponse:
    """`POST /generate/{name}/stream`: the same poem as server-sent events."""
    plane: DataPlane = http.app.state.plane
    admission = await plane.enter(name, client_identity(http), task=TEXT)
    try:
        serving = admission.keep_for_stream()  # held, with the caller's slot, until the stream closes
        http.state.model, http.state.batch_size = name, 1
        # A bad request, or a full queue, is still a plain 4xx/503: both come before the stream opens.
        poem = poems.PoemStream(serving, poems.prepare(serving, request, http.app.state.settings), streaming=True)
    except BaseException:
        await admission.close()
        raise

    async def events() -> AsyncIterator[str]:
        async for event in poem.events():
            if isinstance(event, poems.PoemChar):
                http.state.first_char_ms = poem.first_char_ms
                yield _event("char", {"index": event.index, "char": event.char})
            elif isinstance(event, poems.PoemDone):
                yield _event("done", {**event.poem, "model_version": serving.version})
            else:
                yield _event("error", {"detail": event.detail, "code": "internal_error"})

    async def close() -> None:
        poem.close()
        await admission.close()

    return ClosingStreamingResponse(events(), on_close=close, media_type="text/event-stream",
                                    headers={"Cache-Control": "no-cache"})  # fmt: skip


def generation_router(entry: Entry) -> APIRouter:
    """`/generate/{name}` and `/stream` of one text generator, in Swagger UI under its name."""
    name = entry.name
    router = APIRouter(prefix=f"/generate/{entry.endpoint}", tags=[entry.endpoint])

    async def generate(request: PoemRequest, http: Request) -> Poem:
        return await write_poem(http, name, request)

    async def stream(request: PoemRequest, http: Request) -> StreamingResponse:
        return await stream_poem(http, name, request)

    generate.__doc__ = (f"Write a poem with the {name} model: exactly `line_num` lines of `line_length` "
                        "characters, alternately ending in ，and 。, rhyming under `rhyme` and keeping the 平仄 of "
                        "`tones`; a request no pattern can satisfy is a 422 saying why.")  # fmt: skip
    stream.__doc__ = (f"The same poem as /generate/{entry.endpoint}, as server-sent events: one `char` event per "
                      "character, then `done`.")  # fmt: skip
    router.add_api_route("", generate, methods=["POST"], name=f"generate_{name}", response_model=Poem,
                         response_model_exclude_none=True)  # fmt: skip
    router.add_api_route("/stream", stream, methods=["POST"], name=f"generate_{name}_stream",
                         response_class=StreamingResponse, responses=STREAM_RESPONSES)  # fmt: skip
    return router
