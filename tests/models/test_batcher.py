"""The micro-batcher: gathering, limits, the bounded queue, errors, switching off, draining."""

import asyncio
import threading
import time

import pytest

from app.core.errors import Unavailable
from app.models.batcher import MicroBatcher


def doubling(calls):
    def run_batch(items):
        calls.append(list(items))
        time.sleep(0.01)  # a forward pass takes time: concurrent requests pile up meanwhile
        return [2 * x for x in items]

    return run_batch


def make(calls, **overrides):
    options = {"max_batch_size": 8, "max_wait_s": 0.05, "max_queue_size": 100, "enabled": True} | overrides
    return MicroBatcher("test", doubling(calls), **options)


async def run(batcher, coroutine):
    await batcher.start()
    try:
        return await coroutine
    finally:
        await batcher.stop()


def test_concurrent_requests_share_one_forward_pass():
    calls = []
    batcher = make(calls)

    async def scenario():
        return await asyncio.gather(*(batcher.submit([i]) for i in range(5)))

    assert asyncio.run(run(batcher, scenario())) == [[0], [2], [4], [6], [8]]
    assert calls == [[0, 1, 2, 3, 4]]
    assert batcher.batch_sizes == [5]


def test_batches_never_exceed_max_batch_size_except_for_one_large_request():
    calls = []
    batcher = make(calls, max_batch_size=4)

    async def scenario():
        small = await asyncio.gather(*(batcher.submit([i]) for i in range(10)))
        large = await batcher.submit(list(range(6)))
        return small, large

    small, large = asyncio.run(run(batcher, scenario()))
    assert small == [[2 * i] for i in range(10)]
    assert large == [0, 2, 4, 6, 8, 10]
    assert [len(c) for c in calls[:-1]] == [4, 4, 2]
    assert len(calls[-1]) == 6


def test_sequential_requests_do_not_wait_for_company():
    calls = []
    batcher = make(calls, max_wait_s=1.0)

    async def scenario():
        started = time.perf_counter()
        results = [await batcher.submit([i]) for i in range(3)]
        return results, time.perf_counter() - started

    results, elapsed = asyncio.run(run(batcher, scenario()))
    assert results == [[0], [2], [4]]
    assert elapsed < 1.5  # three 10 ms requests; each held for the 1 s window would take 3 s


def test_under_concurrent_load_batches_wait_for_more_requests():
    calls = []
    # A window far longer than the pause below, so a busy machine cannot stretch the pause past it; the batch
    # is full with the second request, so the test does not wait the window out.
    batcher = make(calls, max_wait_s=5.0, max_batch_size=2)

    async def scenario():
        await asyncio.gather(*(batcher.submit([i]) for i in range(2)))  # concurrent traffic seen
        first = asyncio.create_task(batcher.submit([10]))
        await asyncio.sleep(0.03)  # the first is waiting for company now; the second joins it in one pass
        second = await batcher.submit([11])
        return await first, second

    assert asyncio.run(run(batcher, scenario())) == ([20], [22])
    assert calls[-1] == [10, 11]


def test_full_queue_answers_503_with_retry_after():
    calls = []
    batcher = make(calls, max_queue_size=3, retry_after_s=2)

    async def scenario():
        first = asyncio.create_task(batcher.submit([1, 2, 3]))
        await asyncio.sleep(0)  # let it enqueue
        with pytest.raises(Unavailable) as refused:
            await batcher.submit([4])
        return await first, refused.value

    result, error = asyncio.run(run(batcher, scenario()))
    assert result == [2, 4, 6]
    assert (error.code, error.retry_after_s) == ("queue_full", 2)
    assert "busy" in error.detail


def test_an_error_in_a_batch_is_a_503_for_its_requests_and_the_worker_survives():
    def flaky(items):
        if 13 in items:
            raise RuntimeError("bad batch")
        return items

    batcher = MicroBatcher("test", flaky, max_batch_size=8, max_wait_s=0.0, max_queue_size=100)

    async def scenario():
        with pytest.raises(Unavailable) as failed:
            await batcher.submit([13])
        assert failed.value.code == "inference_failed"
        assert "bad batch" not in failed.value.detail  # internals stay in the log
        return await batcher.submit([7])

    assert asyncio.run(run(batcher, scenario())) == [7]


def test_batching_off_runs_each_request_alone():
    calls = []
    batcher = make(calls, enabled=False)

    async def scenario():
        return await asyncio.gather(*(batcher.submit([i]) for i in range(4)))

    assert asyncio.run(run(batcher, scenario())) == [[0], [2], [4], [6]]
    assert sorted(calls) == [[0], [1], [2], [3]]


def test_inference_runs_off_the_event_loop_thread():
    seen = []

    def record_thread(items):
        seen.append(threading.current_thread().name)
        return items

    batcher = MicroBatcher("test", record_thread, max_batch_size=8, max_wait_s=0.0, max_queue_size=10)
    asyncio.run(run(batcher, batcher.submit([1])))
    assert seen and seen[0].startswith("infer-test")


def test_stop_drains_queued_requests():
    calls = []
    batcher = make(calls, max_wait_s=0.05)

    async def scenario():
        await batcher.start()
        pending = [asyncio.create_task(batcher.submit([i])) for i in range(3)]
        await asyncio.sleep(0)
        await batcher.stop()  # must not drop the three queued requests
        return await asyncio.gather(*pending)

    assert asyncio.run(scenario()) == [[0], [2], [4]]


def test_bulk_runs_in_chunks():
    calls = []
    batcher = make(calls)
    assert asyncio.run(run(batcher, batcher.run_bulk(list(range(10)), 4))) == [2 * i for i in range(10)]
    assert [len(c) for c in calls] == [4, 4, 2]
