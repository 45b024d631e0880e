"""Writing poems: every door resolves its request with `prepare`, then `write`s it whole or `stream`s it.

`prepare` turns a validated PoemRequest into the one spec type the generator takes (PoemSpec): the theme
resolved to characters, the request checked against the model's vocabulary and tone patterns, a seed
drawn if none was given (so a streamed poem can report it). Every refusal happens there, before an
answer or a stream starts. Both `write` and `stream` hand the poem to the model's scheduler
(app/models/poem_scheduler.py), which decodes it beside every other poem in progress.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from app.core.config import Settings
from app.core.errors import InvalidInput, TooLarge
from app.models.poem_scheduler import DONE, PoemHandle
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
    # Unsaid, a poem rhymes under 平水韵 when the model has rhyme tables (a model imported without them: free).
    rhyme = request.rhyme or ("pingshui" if generator.rhymes else "none")
    spec = PoemSpec(start=start, acrostic=acrostic, line_num=request.line_num, line_length=request.line_length,
                    temperature=request.temperature, top_k=request.top_k, seed=request.seed,
                    rhyme=rhyme, tones=request.tones)  # fmt: skip
    generator.check(spec)
    return with_seed(spec)


def _answer(serving: Serving, spec: PoemSpec, text: str) -> dict[str, Any]:
    poem = assemble(text, spec.line_length)
    return {**poem, "seed": spec.seed, **serving.predictor.describe_rhyme(spec, poem["lines"])}


async def write(serving: Serving, spec: PoemSpec) -> dict[str, Any]:
    """The whole poem ({poem, lines, seed, rhyme_group?, rhymes?}); a model that fails is a logged 503."""
    return await PoemStream(serving, spec).whole()


class PoemStream:
    """A poem being streamed: handed to the scheduler when opened (so a full queue is a 503 before the stream
    starts), read with `events()`; `close()` when the client is gone frees its row at the next pass."""

    def __init__(self, serving: Serving, spec: PoemSpec, *, streaming: bool = False) -> None:
        self.serving, self.spec = serving, spec
        self.opened = time.perf_counter()
        self.first_char_s: float | None = None  # time to the first character, for the request's log line
        self._handle: PoemHandle = serving.scheduler.submit(spec, streaming=streaming)

    @property
    def first_char_ms(self) -> float | None:
        seconds = self.first_char_s if self.first_char_s is not None else self._handle.first_char_s
        return None if seconds is None else round(seconds * 1000, 1)

    async def whole(self) -> dict[str, Any]:
        """The poem once written (what `write` returns); the model's failure raised (a 503)."""
        try:
            event = await self._handle.events.get()
        finally:
            self.close()  # a request cancelled while waiting frees its row too (a no-op once the poem is done)
        if isinstance(event, Exception):
            raise event
        return _answer(self.serving, self.spec, self._handle.text)

    async def events(self) -> AsyncIterator[PoemEvent]:
        """A PoemChar per character as it is decided, then PoemDone with what `write` returns — or PoemFailed:
        once a stream has started, a failure can only be reported in-band. (Open it with streaming=True.)"""
        text = ""
        try:
            while (event := await self._handle.events.get()) is not DONE:
                if isinstance(event, Exception):
                    yield PoemFailed("internal server error")  # the cause is in the log
                    return
                if self.first_char_s is None:
                    self.first_char_s = time.perf_counter() - self.opened
                yield PoemChar(len(text), event)
                text += event
            yield PoemDone(_answer(self.serving, self.spec, text))
        finally:
            self.close()

    def close(self) -> None:
        self._handle.cancel()
