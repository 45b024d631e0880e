"""POST /generate/poem and /generate/poem/stream — Tang-style poems from the character model."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from app.api.deps import ServiceDep, SettingsDep, per_client
from app.core.config import Settings
from app.core.errors import ApiError, error_body
from app.predictors.poem_generation import PoemGenerator, PoemInputError, PoemSpec, with_seed
from app.schemas.poem import Poem, PoemRequest

# Each poem, streamed or not, holds one of its client's poem slots until its last character is sent.
router = APIRouter(prefix="/generate/poem", tags=["poem"], dependencies=[Depends(per_client("poem"))])
logger = logging.getLogger("dlserve")


def to_spec(request: PoemRequest, generator: PoemGenerator, settings: Settings) -> PoemSpec:
    """Resolve the theme and the seed, then check the request against the model's vocabulary (422s)."""
    start, acrostic = request.start, request.acrostic
    try:
        if request.theme is not None:
            if start or acrostic:
                raise ApiError(422, "invalid_input", "give `theme` or `start`/`acrostic`, not both")
            if len(request.theme) > settings.max_theme_chars:
                raise ApiError(413, "too_large", f"`theme` has {len(request.theme)} characters; the limit is "
                               f"{settings.max_theme_chars} (MAX_THEME_CHARS)")  # fmt: skip
            if request.theme_as == "acrostic":
                acrostic = generator.keywords_to_chars(request.theme, request.line_num)
                if len(acrostic) < request.line_num:
                    raise ApiError(422, "invalid_input", f"the theme gives only {len(acrostic)} usable characters "
                                   f"({acrostic}) for {request.line_num} acrostic heads")  # fmt: skip
            else:
                start = generator.keywords_to_chars(request.theme, min(2, request.line_length))
        spec = PoemSpec(start=start, acrostic=acrostic, line_num=request.line_num, line_length=request.line_length,
                        temperature=request.temperature, top_k=request.top_k, seed=request.seed,
                        rhyme=request.rhyme, tones=request.tones)  # fmt: skip
        generator.check(spec)
    except PoemInputError as exc:
        extra = {"unknown_characters": exc.unknown} if exc.unknown else {}
        raise ApiError(422, "invalid_input", str(exc), **extra) from exc
    return with_seed(spec)  # drawn here, so a streamed poem can report its seed too


@router.post("", response_model=Poem, response_model_exclude_none=True)
async def generate_poem(request: PoemRequest, http: Request, service: ServiceDep, settings: SettingsDep) -> Poem:
    """Write a poem of exactly `line_num` lines of `line_length` characters, alternately ending in ，and 。,
    rhyming under `rhyme` and keeping the 平仄 of `tones`; a request no pattern can satisfy is a 422 saying why."""
    serving = service.current("poem")  # this version writes the poem, even if a reload swaps in another
    generator: PoemGenerator = serving.predictor
    http.state.model, http.state.batch_size = "poem", 1
    spec = to_spec(request, generator, settings)
    result = await write_poem(generator, spec)
    return Poem(**result, model_version=serving.loaded.version)


async def write_poem(generator: PoemGenerator, spec: PoemSpec) -> dict:
    """The whole poem, off the event loop; a model that raises is a logged 503, not a 500."""
    try:
        return await run_in_threadpool(generator.generate, spec)
    except Exception as exc:  # a fault of the model: logged with its traceback, answered 503 without internals
        logger.exception("model poem failed on a request")
        raise ApiError(503, "inference_failed", f"the poem model failed to run on this input ({type(exc).__name__}); "
                       "the error is logged", model="poem") from exc  # fmt: skip


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
    generator: PoemGenerator = serving.predictor
    http.state.model, http.state.batch_size = "poem", 1
    spec = to_spec(request, generator, settings)  # a bad request is still a plain 4xx, before the stream opens
    version = serving.loaded.version

    def events() -> Iterator[str]:
        for event in assemble_stream(generator, spec):
            if event["kind"] == "char":
                yield _event("char", {"index": event["index"], "char": event["char"]})
            elif event["kind"] == "done":
                yield _event("done", {**event["poem"], "model_version": version})
            else:
                yield _event("error", error_body(event["detail"], "internal_error"))

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


def assemble_stream(generator: PoemGenerator, spec: PoemSpec) -> Iterator[dict]:
    """A streamed poem as events: {"kind": "char", index, char} each, then {"kind": "done", "poem": {poem, lines,
    seed, rhyme_group, rhymes}} — or {"kind": "error"}: once the status line is sent, a failure is reported in-band."""
    try:
        text = ""
        for index, char in enumerate(generator.stream(spec)):
            text += char
            yield {"kind": "char", "index": index, "char": char}
        poem = _assemble(text, spec)
        yield {"kind": "done", "poem": {**poem, "seed": spec.seed, **generator.describe_rhyme(spec, poem["lines"])}}
    except Exception:
        logger.exception("poem stream failed")
        yield {"kind": "error", "detail": "internal server error"}


def _assemble(text: str, spec: PoemSpec) -> dict:
    """The streamed characters as the same {poem, lines} a non-streamed request returns."""
    size = spec.line_length + 1
    lines = [text[i : i + size] for i in range(0, len(text), size)]
    poem = "\n".join("".join(lines[i : i + 2]) for i in range(0, len(lines), 2))
    return {"poem": poem, "lines": lines}
