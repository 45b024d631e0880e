"""What lets a replaced model's worker (a micro-batcher, the poem scheduler) stop only once nobody needs it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager


class Held:
    """Counts the requests holding a worker and the work it has in flight; `idle` is set when both are none.

    A request holds the worker it started with (`hold()`, ModelService.hold) so that a reload meanwhile
    lets it finish there; the replaced worker's stop() waits for `idle`. Changed on the event loop only.
    """

    def __init__(self) -> None:
        self._users = 0
        self._work = 0
        self.idle = asyncio.Event()
        self.idle.set()

    @contextmanager
    def hold(self) -> Iterator[None]:
        self._users += 1
        self._update()
        try:
            yield
        finally:
            self._users -= 1
            self._update()

    def set_work(self, count: int) -> None:
        """The work in flight now (items queued or running, poems in progress)."""
        self._work = count
        self._update()

    def _update(self) -> None:
        if self._work == 0 and self._users == 0:
            self.idle.set()
        else:
            self.idle.clear()
