"""Pricing houses: every door's validated rows go through `price`, and every door gets the same warnings."""

from __future__ import annotations

from typing import NamedTuple

from fastapi.concurrency import run_in_threadpool

from app.models.service import Serving
from app.schemas.house import HouseFeatures, beyond_training


class Price(NamedTuple):
    sale_price: float  # US dollars, unrounded
    warnings: list[str]  # fields outside the range the model was trained on (empty when none)


async def price(serving: Serving, houses: list[HouseFeatures], *, chunk_rows: int | None = None) -> list[Price]:
    """Each house's price. With `chunk_rows` (a CSV upload) the rows run chunk by chunk on the side thread;
    otherwise they join a micro-batch shared with concurrent requests."""
    assert serving.batcher is not None  # noqa: S101 - narrows the type: the house model is always batched
    records = [house.features() for house in houses]
    features = await run_in_threadpool(serving.predictor.features, records)  # pandas: off the event loop
    if chunk_rows is None:
        prices = await serving.batcher.submit(features)
    else:
        prices = await serving.batcher.run_bulk(features, chunk_rows)
    return [Price(p, beyond_training(record)) for p, record in zip(prices, records, strict=True)]
