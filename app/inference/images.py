"""Image classification: every door's images go through `classify`."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from app.core.errors import InvalidInput
from app.models.service import Serving


class Classification(NamedTuple):
    probabilities: np.ndarray  # [classes], float32, sums to 1
    saliency: np.ndarray | None = None  # H×W in [0, 1], with explain
    seen: np.ndarray | None = None  # the image the model saw, with explain


async def classify(serving: Serving, images: list[np.ndarray], *, explain: bool = False) -> list[Classification]:
    """Each image's class probabilities, from one micro-batch shared with concurrent requests.

    explain=True adds a saliency map (gradient × input of the predicted class) and the image as the model saw
    it; that work runs on the model's side thread (app/models/batcher.py), never in front of a micro-batch.
    """
    if explain:
        if serving.predictor.differentiable is None:
            raise InvalidInput(f"the {serving.name} model is served from ONNX, which has no gradients: explain=true "
                               "needs a TorchScript model.pt", code="explain_unavailable")  # fmt: skip
        explained = await serving.batcher.on_side_thread(serving.predictor.explain, images)
        return [Classification(p, saliency, seen) for p, saliency, seen in explained]
    return [Classification(p) for p in await serving.batcher.submit(images)]


async def classify_bulk(serving: Serving, images: list[np.ndarray], chunk_rows: int) -> list[np.ndarray]:
    """A whole uploaded file's probabilities, chunk by chunk on the model's side thread (a CSV upload)."""
    return await serving.batcher.run_bulk(images, chunk_rows)
