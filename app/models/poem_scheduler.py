"""Continuous batching of poem decoding: every poem being written advances one step per forward pass.

A poem is written one character at a time, and each character is a forward pass of the GRU. Decoded
alone, 32 concurrent poems are 32 passes of batch 1 per character; but a step of batch 32 costs only a few
times a step of batch 1 (the weights are read once for all rows). So, as LLM servers do (vLLM, TGI's
continuous batching): one scheduler per poem model, on the model's own thread, keeps the decodings of every
active poem (app/predictors/poem_decoding.py: each yields a Step when it needs the model, then a Sample when
it needs a character drawn) and, each pass, stacks their Steps into one forward pass — one row per poem,
four during a rhyme's look-ahead — hands each poem its logits, then draws every poem's character in one
batched top-k (each row with its own mask, temperature, top-k and seed: what it would draw alone). New
poems join at the next pass; a finished or abandoned poem leaves at once. `python -m bench.poems` measures
what it gives over HTTP (docs/performance.md).

Steps feed different numbers of tokens (a line's last character goes in with its mark; a poem's first step
feeds its start characters). A pass feeds every Step the fewest tokens any of them has, the rest following
in the next passes, so each pass is one forward pass of every poem. At most MAX_ACTIVE_POEMS poems are
decoded together; the others wait their turn, up to MAX_QUEUED_POEMS in all (past that, 503 + Retry-After).

A streamed poem's characters reach the event loop one by one as they are decided (`call_soon_threadsafe`),
so a stream sends each the moment its step is done; a poem answered whole is gathered on the scheduler's
thread and handed over once. All counting of poems in flight happens on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from app.models.batcher import inference_failed
from app.models.worker import Worker
from app.predictors.poem_decoding import Decoding, Sample, Step, StepAnswer
from app.predictors.poem_generation import PoemGenerator, PoemSpec

logger = logging.getLogger("dlserve.poems")
DONE = object()  # the last event of a poem that was written whole


@dataclass(eq=False)
class PoemHandle:
    """One poem in the scheduler. DONE or an exception arrives on `events` when it ends; a streamed poem's
    characters (str) arrive there first, one by one; a poem answered whole has them in `text` by then."""

    spec: PoemSpec
    decoding: Decoding
    streaming: bool
    events: asyncio.Queue = field(default_factory=asyncio.Queue)
    cancelled: bool = False  # set on the event loop, read by the scheduler's thread before each step
    waiting: Step | Sample | None = None  # what it waits for (None: not started yet)
    text: str = ""  # a whole poem's characters, gathered on the scheduler's thread
    submitted_at: float = field(default_factory=time.perf_counter)
    first_char_s: float | None = None  # from submission to its first character

    def cancel(self) -> None:
        """The client left: the poem stops at the scheduler's next pass, and its row is free."""
        self.cancelled = True


class PoemScheduler(Worker):
    noun = "poems"

    def __init__(
        self,
        generator: PoemGenerator,
        *,
        name: str = "poem",
        max_active: int,
        max_queued: int,
        retry_after_s: int,
        on_pass: Callable[[int, int, float], None] | None = None,
        on_chars: Callable[[int], None] | None = None,
        on_depth: Callable[[int], None] | None = None,
    ) -> None:
        super().__init__(name, max_depth=max_queued, retry_after_s=retry_after_s, on_depth=on_depth)
        self.generator, self.max_active = generator, max_active
        self.on_pass, self.on_chars = on_pass, on_chars
        self.passes: list[int] = []  # poems per recent forward pass (bounded), for tests
        self._incoming: queue.SimpleQueue[PoemHandle | None] = queue.SimpleQueue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def in_flight(self) -> int:
        """Poems submitted and not yet finished (changed on the event loop only)."""
        return self.depth

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name=f"poem-scheduler-{self.name}", daemon=True)
        self._thread.start()

    async def _shut_down(self) -> None:
        if self._thread is not None:
            self._incoming.put(None)
            await asyncio.get_running_loop().run_in_executor(None, self._thread.join)
            self._thread = None

    def submit(self, spec: PoemSpec, *, streaming: bool = False) -> PoemHandle:
        """Queue a checked, seeded spec (app/inference/poems.py:prepare); 503 + Retry-After past MAX_QUEUED_POEMS."""
        self.admit(1)
        handle = PoemHandle(spec, self.generator.decoding(spec), streaming)
        self.depth += 1
        self._incoming.put(handle)
        return handle

    # --- on the event loop, called from the scheduler's thread ---------------------------------------------

    def _finished(self, handle: PoemHandle, last: object) -> None:
        handle.events.put_nowait(last)
        self.depth -= 1

    # --- the scheduler's thread ----------------------------------------------------------------------------

    def _run(self) -> None:
        active: list[PoemHandle] = []
        with torch.inference_mode():
            while True:
                if not active:  # nothing to decode: sleep until a poem arrives
                    first = self._incoming.get()
                    if first is None:
                        return
                    self._admit(first, active)
                while len(active) < self.max_active:  # newcomers join this pass
                    try:
                        handle = self._incoming.get_nowait()
                    except queue.Empty:
                        break
                    if handle is None:
                        self._incoming.put(None)  # stop once the poems in flight are done
                        break
                    self._admit(handle, active)
                active = self._pass(active)

    def _admit(self, handle: PoemHandle, active: list[PoemHandle]) -> None:
        if handle.cancelled:  # its client left while it waited: never started
            handle.decoding.close()
            self._emit(handle, DONE, last=True)
        elif self._advance(handle, None):
            active.append(handle)

    def _pass(self, active: list[PoemHandle]) -> list[PoemHandle]:
        """One forward pass over the waiting Steps, then one batched draw over the Samples they lead to: every
        poem one character on."""
        live = []
        for handle in active:
            if handle.cancelled:
                handle.decoding.close()
                self._emit(handle, DONE, last=True)
            else:
                live.append(handle)
        done = self._step([h for h in live if isinstance(h.waiting, Step)])
        sampling = [h for h in live if h not in done and isinstance(h.waiting, Sample)]
        if sampling:
            try:
                tokens = self.generator.sample([h.waiting for h in sampling])
            except Exception as exc:
                logger.error("drawing the characters of %d poems failed", len(sampling), exc_info=exc)
                for handle in sampling:
                    self._fail(handle, exc)
                done.update(sampling)
            else:
                done.update(h for h, token in zip(sampling, tokens, strict=True) if not self._advance(h, token))
        return [h for h in live if h not in done]

    def _step(self, handles: list[PoemHandle]) -> set[PoemHandle]:
        """Every waiting Step through the model in one pass; the poems that finished (or failed) on it.

        A pass feeds every Step the same number of tokens: the fewest any of them has. A longer Step (a line's
        last character and its mark, fed together) gets the rest in the next passes and is answered only
        then, so poems at a line's end never split a pass in two; a poem alone still feeds its Step at once."""
        if not handles:
            return set()
        steps: list[Step] = [h.waiting for h in handles]  # type: ignore[misc]  # the caller picked the Steps
        length = min(s.ids.shape[1] for s in steps)
        started = time.perf_counter()
        try:
            answers = self._forward([s.ids[:, :length] if s.ids.shape[1] > length else s.ids for s in steps],
                                    [s.hidden for s in steps])  # fmt: skip
        except Exception as exc:  # the model failed: these poems fail, the scheduler lives on
            logger.error("model poem failed on a pass of %d poems", len(handles), exc_info=exc)
            for handle in handles:
                self._fail(handle, exc)
            return set(handles)
        if self.on_pass is not None:
            self.on_pass(len(handles), sum(s.rows for s in steps), time.perf_counter() - started)
        self.passes = [*self.passes[-999:], len(handles)]
        done = set()
        for handle, step, answer in zip(handles, steps, answers, strict=True):
            if step.ids.shape[1] > length:
                handle.waiting = Step(step.ids[:, length:], answer[1])  # the rest of its tokens next pass
            elif not self._advance(handle, answer):
                done.add(handle)
        return done

    def _fail(self, handle: PoemHandle, exc: Exception) -> None:
        handle.decoding.close()
        self._emit(handle, inference_failed("poem", exc), last=True)

    def _forward(self, ids: list[torch.Tensor], hidden: list[torch.Tensor]) -> list[StepAnswer]:
        """Many poems' tokens stacked into one forward pass, and each poem's rows of the answer."""
        if len(ids) == 1:
            return [self.generator.step(ids[0], hidden[0])]
        logits, state = self.generator.step(torch.cat(ids), torch.cat(hidden, dim=1))
        rows = [len(i) for i in ids]
        return list(zip(logits.split(rows), state.split(rows, dim=1), strict=True))

    def _advance(self, handle: PoemHandle, answer: StepAnswer | int | None) -> bool:
        """Run one poem on to its next Step or Sample, handing on its characters; False once it is finished."""
        chars = 0
        try:
            while True:
                item: Any = handle.decoding.send(answer)
                if isinstance(item, Step | Sample):
                    handle.waiting = item
                    return True
                answer = None
                chars += 1
                if handle.first_char_s is None:
                    handle.first_char_s = time.perf_counter() - handle.submitted_at
                if handle.streaming:
                    self._emit(handle, item)
                else:
                    handle.text += item
        except StopIteration:
            self._emit(handle, DONE, last=True)
        except Exception as exc:  # a fault of the decoding: logged, this poem fails, the others go on
            logger.error("a poem's decoding failed", exc_info=exc)
            self._emit(handle, inference_failed("poem", exc), last=True)
        finally:
            if chars and self.on_chars is not None:
                self.on_chars(chars)
        return False

    def _emit(self, handle: PoemHandle, event: object, *, last: bool = False) -> None:
        assert self._loop is not None  # noqa: S101 - start() set it before any poem could arrive
        if last:
            self._loop.call_soon_threadsafe(self._finished, handle, event)
        else:
            self._loop.call_soon_threadsafe(handle.events.put_nowait, event)
