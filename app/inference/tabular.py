"""Tabular regression: every door's validated rows go through `predict`, and every door gets the same warnings."""

from __future__ import annotations

from typing import NamedTuple

from fastapi.concurrency import run_in_threadpool

from app.models.service import Serving
from app.schemas.model_meta import TabularSpec
from app.schemas.tabular import TabularRow, beyond_training


class Prediction(NamedTuple):
    value: float  # the target (a house's price in US dollars), unrounded
    warnings: list[str]  # fields outside the range the model was trained on (empty when none)


def spec_of(serving: Serving) -> TabularSpec:
    assert isinstance(serving.loaded.spec, TabularSpec)  # noqa: S101 - narrows the type: a tabular model's
    return serving.loaded.spec


async def predict(serving: Serving, rows: list[TabularRow], *, chunk_rows: int | None = None) -> list[Prediction]:
    """Each row's prediction. With `chunk_rows` (a CSV upload) the rows run chunk by chunk on the side thread;
    otherwise they join a micro-batch shared with concurrent requests."""
    spec = spec_of(serving)
    records = [row.features() for row in rows]
    features = await run_in_threadpool(serving.predictor.features, records)  # pandas: off the event loop
    if chunk_rows is None:
        values = await serving.batcher.submit(features)
    else:
        values = await serving.batcher.run_bulk(features, chunk_rows)
    return [Prediction(v, beyond_training(spec, record)) for v, record in zip(values, records, strict=True)]
