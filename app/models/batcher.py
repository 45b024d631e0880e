"""A per-model micro-batcher: concurrent requests share one forward pass.

Requests put their items on a bounded queue and await a future. One worker per model takes
the first waiting request, keeps gathering more for up to `max_wait` or until `max_batch_size`
items, then runs the model once, in a thread so the event loop keeps serving. While that pass
runs, the next batch accumulates — under load batches fill by themselves. When the queue
already holds `max_queue_size` items, new requests are refused at once (503 + Retry-After)
instead of waiting without bound. With batching off, each request runs on its own (for comparison).

Costly work that is not a micro-batch — an explain request's backward pass, the chunks of a CSV
upload — runs on a second thread of the model's, at a lower CPU priority: it never queues in front of
a micro-batch (a plain request would otherwise wait for a 100 ms CSV chunk or a saliency map), and
when the cores are short the interactive requests win. Measured with one client posting explain
requests back to back and another timing plain digits (tests/deploy/test_safe_defaults_live.py):
on the model's own thread the plain p50 rose from 2.5 to 8-14 ms; beside it, within 1.5x.

Holding, the queue's depth and bound, and stopping once idle are the worker base's (app/models/worker.py),
shared with the poem scheduler.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from app.core.errors import Unavailable
from app.models.worker import Worker

logger = logging.getLogger("dlserve.batcher")
SIDE_NICENESS = 19  # how much less CPU priority the side thread gets (Linux nice, 0-19)


def inference_failed(model: str, exc: Exception) -> Unavailable:
    return Unavailable(
        f"the {model} model failed to run on this input ({type(exc).__name__}); the error is logged",
        code="inference_failed",
        model=model,
    )


def lower_priority() -> None:
    """Make the calling thread (and the threads it starts, torch's among them) yield the CPU to the others."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), SIDE_NICENESS)  # per thread on Linux
    except (AttributeError, OSError):  # another OS, or a sandbox that forbids it: plain priority, still its own thread
        logger.debug("could not lower the side thread's priority", exc_info=True)


@dataclass
class _Job:
    items: Sequence[Any]
    future: asyncio.Future = field(repr=False)


class MicroBatcher(Worker):
    def __init__(
        self,
        name: str,
        run_batch: Callable[[list[Any]], list[Any]],
        *,
        max_batch_size: int,
        max_wait_s: float,
        max_queue_size: int,
        enabled: bool = True,
        retry_after_s: int = 1,
        on_batch: Callable[[str, int, float], None] | None = None,
        on_depth: Callable[[int], None] | None = None,
    ) -> None:
        super().__init__(name, max_depth=max_queue_size, retry_after_s=retry_after_s, on_depth=on_depth)
        self._run_batch, self.on_batch = run_batch, on_batch
        self.max_batch_size, self.max_wait_s, self.enabled = max_batch_size, max_wait_s, enabled
        self.batch_sizes: list[int] = []  # recent batch sizes, for tests and metrics (bounded below)
        self._queue: asyncio.Queue[_Job] = asyncio.Queue()
        self._last_batch_jobs = 0  # requests in the previous batch: >1 means concurrent traffic
        self._worker: asyncio.Task | None = None
        # One thread per model: forward passes of one model never overlap, so torch's own threads
        # are not oversubscribed, and the event loop is never blocked.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"infer-{name}")
        self._side = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"side-{name}", initializer=lower_priority)

    def run_batch(self, items: list[Any]) -> list[Any]:
        """One forward pass (on the model's thread), reported to `on_batch` for the metrics."""
        started = time.perf_counter()
        results = self._run_batch(items)
        if self.on_batch is not None:
            self.on_batch(self.name, len(items), time.perf_counter() - started)
        return results

    def inference_failed(self, exc: Exception, requests: int) -> Unavailable:
        """A model that raises is a fault of this model, not of the client or of the service: logged once
        with its traceback (a bug to fix), answered 503 naming the model but not the internals."""
        logger.error("model %s failed on a batch of %d requests", self.name, requests, exc_info=exc)
        return inference_failed(self.name, exc)

    async def start(self) -> None:
        if self.enabled and self._worker is None:
            self._worker = asyncio.create_task(self._work(), name=f"batcher-{self.name}")

    async def _shut_down(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
            self._worker = None
        self._executor.shutdown(wait=True)
        self._side.shutdown(wait=True)

    async def submit(self, items: Sequence[Any]) -> list[Any]:
        """Run `items` through the model (batched with other requests); returns one result per item."""
        if not items:
            return []
        self.admit(len(items))
        self.depth += len(items)
        try:
            if not self.enabled:
                loop = asyncio.get_running_loop()
                try:
                    return await loop.run_in_executor(self._executor, self.run_batch, list(items))
                except Exception as exc:
                    raise self.inference_failed(exc, 1) from exc
            job = _Job(items, asyncio.get_running_loop().create_future())
            self._queue.put_nowait(job)
            return await job.future
        finally:
            self.depth -= len(items)

    async def run_bulk(self, items: Sequence[Any], chunk_size: int) -> list[Any]:
        """Run a large upload (a CSV) chunk by chunk on the side thread.

        In chunks so that a 28,000-row file holds one chunk's tensors at a time, and so that uploads
        take turns on the side thread chunk by chunk rather than file by file.
        """
        results: list[Any] = []
        for start in range(0, len(items), chunk_size):
            results += await self.on_side_thread(self.run_batch, list(items[start : start + chunk_size]))
        return results

    async def on_side_thread(self, work: Callable[..., Any], *args: Any) -> Any:
        """Run `work(*args)` on the model's side thread, beside the micro-batches (a failure is the model's 503)."""
        self.admit(0)  # outside the queue's bound: CSV uploads have their own (MAX_CONCURRENT_CSV, per client)
        self.depth += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._side, work, *args)
        except Exception as exc:
            raise self.inference_failed(exc, 1) from exc
        finally:
            self.depth -= 1

    async def _gather(self) -> list[_Job]:
        """The next batch: the first waiting request, plus others until the batch is full or max_wait passes.

        The wait is skipped when traffic is sequential (nothing else queued and the previous batch held
        one request): then no one could join, and waiting would only add max_wait to every request.
        """
        jobs = [await self._queue.get()]
        count = len(jobs[0].items)
        wait = self.max_wait_s if (not self._queue.empty() or self._last_batch_jobs > 1) else 0.0
        deadline = asyncio.get_running_loop().time() + wait
        while count < self.max_batch_size:
            # What is already queued is taken at once: wait_for wraps each get in a task of its own,
            # too dear to pay per request under load; it is used only to wait for the queue to fill.
            if not self._queue.empty():
                job = self._queue.get_nowait()
            else:
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    break
                try:
                    job = await asyncio.wait_for(self._queue.get(), remaining)
                except TimeoutError:
                    break
            jobs.append(job)
            count += len(job.items)
        self._last_batch_jobs = len(jobs)
        return jobs

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            jobs = [job for job in await self._gather() if not job.future.done()]  # skip cancelled requests
            if not jobs:
                continue
            items = [item for job in jobs for item in job.items]
            self.batch_sizes = [*self.batch_sizes[-999:], len(items)]
            try:
                results = await loop.run_in_executor(self._executor, self.run_batch, items)
            except Exception as exc:  # the requests in this batch get a 503, the worker lives on
                refusal = self.inference_failed(exc, len(jobs))
                for job in jobs:
                    if not job.future.done():
                        job.future.set_exception(refusal)
                continue
            start = 0
            for job in jobs:
                if not job.future.done():
                    job.future.set_result(results[start : start + len(job.items)])
                start += len(job.items)
