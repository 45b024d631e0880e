"""Per-client bounds on the costly operations, so one caller cannot take what everyone shares.

The global bounds (a model's queue, MAX_CONCURRENT_CSV) protect the process; they do not stop one
client from taking all of it. These count, per client and per kind of costly work — explain, CSV
uploads, poems, reloads — the requests in flight, and answer 429 with Retry-After past the limit.

In-flight counts, not a request rate (the `limits`/`slowapi` way, N per time window): what these
operations cost is time on a model's thread, and a concurrency bound caps exactly that whatever each
request costs, lets a well-behaved client go as fast as the server answers, and has no window to tune.

A refusal is answered after REFUSAL_DELAY_MS, not at once: a client that ignores Retry-After and asks
again the moment it is refused would otherwise spin, and answering costs the event loop what any cheap
request costs (measured here: four such connections took another client's p50 from 2.6 to 6.7 ms).
A waiting refusal costs nothing, and caps each refused connection at a few asks a second.

Every count changes on the event loop (the dependencies and handlers that hold slots are async), so
the counter needs no lock.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager

from app.core.errors import TooManyRequests

# kind -> (what the client has too many of, the setting that bounds it)
KINDS = {
    "explain": ("explain=true requests", "PER_CLIENT_EXPLAIN"),
    "csv": ("CSV uploads", "PER_CLIENT_CSV"),
    "poem": ("poems", "PER_CLIENT_POEMS"),
    "reload": ("model loads or unloads", "PER_CLIENT_RELOADS"),
}


class ClientLimits:
    def __init__(
        self,
        limits: Mapping[str, int],
        *,
        retry_after_s: int,
        refusal_delay_s: float,
        on_refusal: Callable[[str], None] | None = None,
    ) -> None:
        assert set(limits) == set(KINDS), limits  # noqa: S101 - a programming error, caught by every test run
        self.limits, self.retry_after_s, self.refusal_delay_s = dict(limits), retry_after_s, refusal_delay_s
        self.on_refusal = on_refusal
        self._in_flight: Counter[tuple[str, str]] = Counter()

    def in_flight(self, kind: str, client: str) -> int:
        return self._in_flight[(kind, client)]

    @asynccontextmanager
    async def hold(self, kind: str, client: str) -> AsyncIterator[None]:
        """One slot of `kind` for `client` while the block runs; 429 when the client has them all."""
        key, limit = (kind, client), self.limits[kind]
        if self._in_flight[key] >= limit:
            if self.on_refusal is not None:
                self.on_refusal(kind)
            await asyncio.sleep(self.refusal_delay_s)
            noun, setting = KINDS[kind]
            raise TooManyRequests(
                f"this client already has {limit} {noun} in progress ({setting}); retry when one has finished",
                retry_after_s=self.retry_after_s,
            )
        self._in_flight[key] += 1
        try:
            yield
        finally:
            self._in_flight[key] -= 1
            if not self._in_flight[key]:
                del self._in_flight[key]  # no entry per client that ever called: the counter stays small
