"""What every model's worker shares — the micro-batcher (app/models/batcher.py) and the poem scheduler
(app/models/poem_scheduler.py): who holds it, how much work it has, when it refuses more, when it stops.

A worker runs one model version on a thread of its own. A request holds the worker it started with
(`hold`, taken through ModelService.hold with no await between finding the model and holding it), so a
reload meanwhile lets the request finish there; `stop` (a replaced or shut-down worker) waits until no
request holds it and no work is left, then shuts its thread down. Work offered after that is refused
with a 503 that says why — never queued onto a thread that is gone, where it would wait for ever.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

from app.core.errors import Unavailable
from app.models.holding import Held


class Worker:
    """The shared part of a model's worker: holding, the depth of its queue, refusal when full, stop when idle."""

    noun = "items"  # what the depth counts, for the queue-full message

    def __init__(
        self, name: str, *, max_depth: int, retry_after_s: int, on_depth: Callable[[int], None] | None = None
    ) -> None:
        self.name, self.max_depth, self.retry_after_s, self.on_depth = name, max_depth, retry_after_s, on_depth
        self.held = Held()  # requests holding this worker and work in flight: a replaced one stops once idle
        self._depth = 0
        self.stopped = False

    @property
    def depth(self) -> int:
        """Work queued or running: what the bound applies to and the queue-depth metric reports."""
        return self._depth

    @depth.setter
    def depth(self, count: int) -> None:
        # Set where it changes, not read by a callback at scrape time: with several workers a scrape reads
        # every worker process's last value from its file, and only a value written there is seen.
        self._depth = count
        if self.on_depth is not None:
            self.on_depth(count)
        self.held.set_work(count)

    def hold(self) -> AbstractContextManager[None]:
        """Keep this worker running while a request uses it, even if a reload replaces it meanwhile."""
        return self.held.hold()

    def admit(self, adding: int) -> None:
        """Refuse `adding` more work when stopped (503 model_replaced) or when it would pass the bound (queue_full);
        `adding=0`: work outside the bound (a CSV's chunks on the side thread), refused only when stopped."""
        if self.stopped:
            raise Unavailable(
                f"the {self.name} model was replaced or unloaded while this request waited; send it again",
                code="model_replaced",
                retry_after_s=self.retry_after_s,
                model=self.name,
            )
        if adding and self._depth + adding > self.max_depth:
            raise Unavailable(
                f"the {self.name} model is busy ({self._depth} {self.noun} in progress or waiting); retry shortly",
                code="queue_full",
                retry_after_s=self.retry_after_s,
            )

    async def stop(self) -> None:
        """Let every request holding this worker and all its work finish, then stop its thread."""
        while not self.held.idle.is_set():  # checked again on waking: someone may have taken hold in between
            await self.held.idle.wait()
        self.stopped = True
        await self._shut_down()

    async def _shut_down(self) -> None:
        """Stop the worker's thread; nothing holds it and it has no work (a subclass's own)."""
        raise NotImplementedError
