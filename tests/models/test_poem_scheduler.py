"""The poem scheduler (continuous batching): poems decoded together are the poems decoded alone, newcomers join,
leavers free their row, the queue is bounded, a failing model fails only its pass, and stop drains."""

from __future__ import annotations

import asyncio

import pytest
import torch

from app.core.errors import Unavailable
from app.models.poem_scheduler import DONE, PoemScheduler
from app.models.torchscript import script_module
from app.predictors.poem_decoding import Sample
from app.predictors.poem_generation import PoemGenerator, PoemSpec
from training.poem_model import CharRNN, Vocab

VOCAB = Vocab.build(
    [
        "床前明月光，疑是地上霜。举头望明月，低头思故乡。",
        "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。",
        "两个黄鹂鸣翠柳，一行白鹭上青天。窗含西岭千秋雪，门泊东吴万里船。",
        "朝辞白帝彩云间，千里江陵一日还。两岸猿声啼不住，轻舟已过万重山。",
    ]
)
FORMS = [(4, 5), (4, 7), (8, 5), (8, 7)]


@pytest.fixture(scope="module")
def generator():
    torch.manual_seed(0)
    return PoemGenerator(script_module(CharRNN(len(VOCAB), 16, 32, 2, "gru")).eval(), VOCAB.tokens)


def specs(count: int) -> list[PoemSpec]:
    return [PoemSpec(seed=seed, line_num=n, line_length=length, start="明" if seed % 3 == 0 else "")
            for seed in range(count) for n, length in FORMS][:count]  # fmt: skip


async def written(scheduler: PoemScheduler, poem_specs: list[PoemSpec]) -> list[str]:
    handles = [scheduler.submit(spec) for spec in poem_specs]
    results = []
    for handle in handles:
        assert await handle.events.get() is DONE
        results.append(handle.text)
    return results


def run(scheduler: PoemScheduler, scenario):
    async def main():
        scheduler.start()
        try:
            return await scenario
        finally:
            await scheduler.stop()

    return asyncio.run(main())


def make(generator, **options) -> PoemScheduler:
    return PoemScheduler(generator, **({"max_active": 8, "max_queued": 100, "retry_after_s": 2} | options))


def test_poems_decoded_together_are_the_poems_decoded_alone(generator):
    poem_specs = specs(24)
    alone = ["".join(generator.stream(spec)) for spec in poem_specs]
    scheduler = make(generator)
    assert run(scheduler, written(scheduler, poem_specs)) == alone
    assert max(scheduler.passes) == 8  # they really were decoded together, at most MAX_ACTIVE_POEMS at once


def test_one_at_a_time_is_what_max_active_1_gives(generator):
    scheduler = make(generator, max_active=1)
    run(scheduler, written(scheduler, specs(3)))
    assert set(scheduler.passes) == {1}


def test_a_newcomer_joins_poems_already_in_progress(generator):
    scheduler = make(generator)

    async def scenario():
        first = scheduler.submit(PoemSpec(seed=1, line_num=8, line_length=7), streaming=True)
        chars = [await first.events.get() for _ in range(3)]  # the first poem is being written
        late = scheduler.submit(PoemSpec(seed=2, line_num=4, line_length=5))
        assert await late.events.get() is DONE
        while (event := await first.events.get()) is not DONE:
            chars.append(event)
        return "".join(chars), late.text

    first, late = run(scheduler, scenario())
    assert 2 in scheduler.passes and len(late) == 24 and len(first) == 64


def test_a_poem_whose_client_left_stops_and_frees_its_row(generator):
    scheduler = make(generator)

    async def scenario():
        handle = scheduler.submit(PoemSpec(seed=3, line_num=8, line_length=7), streaming=True)
        first = await handle.events.get()
        handle.cancel()
        events = [first]
        while (event := await handle.events.get()) is not DONE:
            events.append(event)
        return events

    events = run(scheduler, scenario())
    assert 1 <= len(events) < 64 and scheduler.in_flight == 0


def test_a_streamed_poem_gets_each_character_as_it_is_decided(generator):
    scheduler = make(generator)

    async def scenario():
        spec = PoemSpec(seed=4, line_num=4, line_length=7)
        handle = scheduler.submit(spec, streaming=True)
        chars = []
        while (event := await handle.events.get()) is not DONE:
            chars.append(event)
        return "".join(chars), "".join(generator.stream(spec))

    streamed, alone = run(scheduler, scenario())
    assert streamed == alone and len(streamed) == 32


def test_past_max_queued_poems_a_new_one_is_refused_with_retry_after(generator):
    scheduler = make(generator, max_queued=2)

    async def scenario():
        handles = [scheduler.submit(spec) for spec in specs(2)]
        with pytest.raises(Unavailable) as refused:
            scheduler.submit(PoemSpec(seed=9))
        for handle in handles:
            await handle.events.get()
        scheduler.submit(PoemSpec(seed=9))  # room again
        return refused.value

    refusal = run(scheduler, scenario())
    assert (refusal.code, refusal.retry_after_s) == ("queue_full", 2)
    assert "busy (2 poems in progress or waiting)" in refusal.detail


def test_a_failing_model_fails_its_pass_and_the_scheduler_writes_on(generator, monkeypatch):
    scheduler = make(generator)
    real_step = generator.step
    calls = {"n": 0}

    def flaky(ids, hidden):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("secret internals")
        return real_step(ids, hidden)

    monkeypatch.setattr(generator, "step", flaky)

    async def scenario():
        failed = scheduler.submit(PoemSpec(seed=5))
        event = await failed.events.get()
        after = await written(scheduler, [PoemSpec(seed=6)])
        return event, after

    event, after = run(scheduler, scenario())
    assert isinstance(event, Unavailable) and event.code == "inference_failed" and "secret" not in event.detail
    assert len(after[0]) == 32


def test_stop_finishes_the_poems_in_flight(generator):
    scheduler = make(generator)

    async def scenario():
        handles = [scheduler.submit(spec) for spec in specs(6)]
        await scheduler.stop()  # drains: returns only once every poem is written
        return [h.events.get_nowait() for h in handles], [h.text for h in handles]

    async def main():
        scheduler.start()
        return await scenario()

    lasts, texts = asyncio.run(main())
    assert all(last is DONE for last in lasts) and all(texts)


def test_the_batched_draw_is_what_torch_multinomial_draws_row_by_row(generator):
    torch.manual_seed(0)
    samples = [
        Sample(torch.randn(1, len(VOCAB)), generator._allowed, used, temperature, top_k,
               torch.Generator().manual_seed(seed))
        for seed, (used, temperature, top_k) in enumerate(
            [((), 0.8, 20), ((5, 9), 1.3, 3), ((), 0.05, 20), ((7,), 2.0, 1)] * 25)
    ]  # fmt: skip
    expected = []
    for seed, s in enumerate(samples):
        allowed = s.wanted.clone()
        allowed[list(s.used)] = False
        scores = (s.logits[0] / s.temperature).masked_fill(~allowed, float("-inf"))
        top, ids = scores.topk(min(s.top_k, int(allowed.sum())))
        own = torch.Generator().manual_seed(seed)
        expected.append(int(ids[torch.multinomial(torch.softmax(top, dim=-1), 1, generator=own)]))
    assert generator.sample(samples) == expected


def test_steps_of_different_lengths_share_one_forward_pass(generator, monkeypatch):
    """A poem at a line's end feeds two tokens (its last character and the mark); beside poems feeding one, it
    feeds them over two passes instead of splitting a pass in two — and writes the same poem."""
    poem_specs = specs(8)
    alone = ["".join(generator.stream(spec)) for spec in poem_specs]
    scheduler = make(generator)
    lengths: list[int] = []
    real_step = generator.step

    def recording(ids, hidden):
        lengths.append(ids.shape[1])
        return real_step(ids, hidden)

    monkeypatch.setattr(generator, "step", recording)

    async def main():
        handles = [scheduler.submit(spec) for spec in poem_specs]  # all waiting before the first pass
        scheduler.start()
        for handle in handles:
            assert await handle.events.get() is DONE
        await scheduler.stop()
        return [handle.text for handle in handles]

    assert asyncio.run(main()) == alone
    assert len(lengths) == len(scheduler.passes)
    # The four forms reach their line ends at different times, and a poem starting with "明" feeds two tokens
    # first: yet until the shortest poem (4×5) is done, every pass carries all eight.
    assert scheduler.passes[:20] == [8] * 20


def test_a_poem_offered_to_a_retired_scheduler_is_refused_at_once_instead_of_waiting_for_ever(generator):
    """The hang of the old order: a door took the serving scheduler, then awaited the request's body; a reload
    retired that scheduler meanwhile (its thread exits); the poem was then queued where no thread would ever
    write it. A retired worker now refuses the poem (503 model_replaced), and the data plane holds the worker
    before anything is awaited, so a reload waits for it instead (the test below)."""
    scheduler = make(generator)

    async def old_order():
        scheduler.start()
        taken = scheduler  # what the door held while the body was still arriving
        await scheduler.stop()  # the reload
        assert scheduler._thread is None  # nothing would write a poem queued now
        with pytest.raises(Unavailable) as refused:
            taken.submit(PoemSpec(seed=1))
        return refused.value

    error = asyncio.run(asyncio.wait_for(old_order(), 60))
    assert isinstance(error, Unavailable) and error.code == "model_replaced" and error.retry_after_s == 2


def test_a_reload_waits_for_the_request_holding_the_scheduler_and_the_poem_is_written(generator):
    scheduler = make(generator)

    async def new_order():
        scheduler.start()
        with scheduler.hold():  # the data plane: held before the body is awaited
            stopping = asyncio.ensure_future(scheduler.stop())  # the reload, while the body arrives
            await asyncio.sleep(0.2)
            assert not stopping.done()  # a held worker keeps running
            handle = scheduler.submit(PoemSpec(seed=1, line_length=5))
            assert await asyncio.wait_for(handle.events.get(), 60) is DONE
        await asyncio.wait_for(stopping, 60)  # and stops once its last request is done
        return handle.text

    assert len(asyncio.run(new_order())) == 4 * 6
