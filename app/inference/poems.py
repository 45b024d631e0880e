"""Writing poems: every door resolves its request with `prepare`, then `write`s it whole or `stream`s it.

`prepare` turns a validated PoemRequest into the one spec type the generator takes (PoemSpec): the theme
resolved to characters, the request checked against the model's vocabulary and tone patterns, a seed
drawn if none was given (so a streamed poem can report it). Every refusal happens there, before an
answer or a stream starts.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fastapi.concurrency import run_in_threadpool

from app.core.config import Settings
from app.core.errors import InvalidInput, TooLarge
from app.models.batcher import inference_failed
from app.models.service import Serving
from app.predictors.poem_generation import PoemGenerator, PoemSpec, assemble, with_seed
from app.schemas.poem import PoemRequest

logger = logging.getLogger("dlserve")


@dataclass(frozen=True)
class PoemChar:
    index: int
    char: str


@dataclass(frozen=True)
class PoemDone:
    poem: dict[str, Any]  # poem, lines, seed, and rhyme_group/rhymes when rhyme is on: what `write` returns


@dataclass(frozen=True)
class PoemFailed:
    detail: str


PoemEvent = PoemChar | PoemDone | PoemFailed


def prepare(serving: Serving, request: PoemRequest, settings: Settings) -> PoemSpec:
    """The spec for a request: theme resolved, checked against the model (InvalidInput/TooLarge), seed drawn."""
    generator: PoemGenerator = serving.predictor
    start, acrostic = request.start, request.acrostic
    if request.theme is not None:
        if start or acrostic:
            raise InvalidInput("give `theme` or `start`/`acrostic`, not both")
        if len(request.theme) > settings.max_theme_chars:
            raise TooLarge(f"`theme` has {len(request.theme)} characters; the limit is {settings.max_theme_chars} "
                           "(MAX_THEME_CHARS)")  # fmt: skip
        if request.theme_as == "acrostic":
            acrostic = generator.keywords_to_chars(request.theme, request.line_num)
            if len(acrostic) < request.line_num:
                raise InvalidInput(f"the theme gives only {len(acrostic)} usable characters ({acrostic}) for "
                                   f"{request.line_num} acrostic heads")  # fmt: skip
        else:
            start = generator.keywords_to_chars(request.theme, min(2, request.line_length))
    spec = PoemSpec(start=start, acrostic=acrostic, line_num=request.line_num, line_length=request.line_length,
                    temperature=request.temperature, top_k=request.top_k, seed=request.seed,
                    rhyme=request.rhyme, tones=request.tones)  # fmt: skip
    generator.check(spec)
    return with_seed(spec)


async def write(serving: Serving, spec: PoemSpec) -> dict[str, Any]:
    """The whole poem ({poem, lines, seed, rhyme_group?, rhymes?}), off the event loop; a model that raises is a
    logged 503, not a 500."""
    try:
        return await run_in_threadpool(serving.predictor.generate, spec)
    except Exception as exc:  # a fault of the model: logged with its traceback, answered without internals
        logger.exception("model poem failed on a request")
        raise inference_failed("poem", exc) from exc


def stream(serving: Serving, spec: PoemSpec) -> Iterator[PoemEvent]:
    """The poem as events: a PoemChar per character, then PoemDone with what `write` returns — or PoemFailed:
    once a stream has started, a failure can only be reported in-band."""
    generator: PoemGenerator = serving.predictor
    try:
        text = ""
        for index, char in enumerate(generator.stream(spec)):
            text += char
            yield PoemChar(index, char)
        poem = assemble(text, spec.line_length)
        yield PoemDone({**poem, "seed": spec.seed, **generator.describe_rhyme(spec, poem["lines"])})
    except Exception:
        logger.exception("poem stream failed")
        yield PoemFailed("internal server error")
