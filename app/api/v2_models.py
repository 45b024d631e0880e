"""The four models as the Open Inference Protocol sees them: their tensors, and how each is run.

- digit, fashion: input `pixels`, UINT8 or FP32, shape [N, 784] or [N, 1, 28, 28], raw 0–255 values as
  in a Kaggle row; outputs `probabilities` FP32 [N, 10] and `label` INT64 [N].
- house: one input per Kaggle column, each of shape [N] — numbers (FP32/FP64, or integers; NaN = missing)
  or BYTES for categories ("" = missing) — any column may be left out and is filled as in training; output
  `sale_price` FP64 [N] and `warnings` BYTES [N] (each row's out-of-training-range warnings joined by "; ",
  "" when none). Rows are validated exactly as /predict/house-price validates them.
- poem: input `text_input` BYTES [1] (the start characters, may be empty), the poem options as
  request parameters; output `text_output` BYTES [1], the poem.

This module only translates tensors to the core's typed inputs and its results back to tensors:
inference is app/inference/, the same calls (and micro-batches) as the REST endpoints.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
from pydantic import ValidationError

from app.api.inputs import check_count
from app.api.v2_tensors import NUMERIC, InferRequest, Tensor, bad
from app.core.config import Settings
from app.core.errors import invalid_fields
from app.inference import poems
from app.inference.houses import price
from app.inference.images import classify
from app.models.service import Serving
from app.predictors.poem_generation import PoemSpec
from app.schemas.house import validate_house_rows
from app.schemas.house_columns import COLUMNS
from app.schemas.pixels import out_of_range
from app.schemas.poem import PoemRequest

PLATFORM = "pytorch_torchscript"
HOUSE_KINDS = {name: kind for name, kind, _ in COLUMNS}
# Request parameters that belong to the protocol, not to the poem.
PROTOCOL_PARAMETERS = {"binary_data_output", "sequence_id", "sequence_start", "sequence_end", "priority", "timeout"}
Infer = Callable[[Serving, InferRequest, Settings], Awaitable[list[Tensor]]]


def _spec(name: str, datatype: str, shape: list[int]) -> dict[str, Any]:
    return {"name": name, "datatype": datatype, "shape": shape}


# The metadata names one datatype and shape per tensor; FP32 and [N, 1, 28, 28] are accepted too (README).
_IMAGE = {
    "inputs": [_spec("pixels", "UINT8", [-1, 784])],
    "outputs": [_spec("probabilities", "FP32", [-1, 10]), _spec("label", "INT64", [-1])],
}
TENSORS: dict[str, dict[str, list[dict[str, Any]]]] = {
    "digit": _IMAGE,
    "fashion": _IMAGE,
    "house": {
        "inputs": [
            _spec(name, "BYTES" if kind == "text" else "INT64" if kind == "code" else "FP64", [-1])
            for name, kind, _ in COLUMNS
        ],
        "outputs": [_spec("sale_price", "FP64", [-1]), _spec("warnings", "BYTES", [-1])],
    },
    "poem": {"inputs": [_spec("text_input", "BYTES", [1])], "outputs": [_spec("text_output", "BYTES", [1])]},
}


def metadata(name: str, version: str) -> dict[str, Any]:
    return {"name": name, "versions": [version], "platform": PLATFORM, **TENSORS[name]}


def _only(request: InferRequest, model: str, name: str) -> Tensor:
    names = [t.name for t in request.inputs]
    if names != [name]:
        raise bad(f"the {model} model takes one input, '{name}'; got {', '.join(repr(n) for n in names)}")
    return request.inputs[0]


async def infer_image(serving: Serving, request: InferRequest, settings: Settings) -> list[Tensor]:
    model = serving.loaded.name
    tensor = _only(request, model, "pixels")
    if tensor.datatype not in ("UINT8", "FP32"):
        raise bad(f"input 'pixels' must be UINT8 or FP32 (raw 0–255 values), not {tensor.datatype}")
    if len(tensor.shape) not in (2, 4) or tensor.shape[1:] not in ([784], [1, 28, 28]):
        raise bad(f"input 'pixels' must have shape [N, 784] or [N, 1, 28, 28], not {tensor.shape}")
    count = tensor.shape[0]
    if count == 0:
        raise bad("input 'pixels' holds no images (N = 0)")
    check_count(count, limit=settings.max_list_items, noun="images")
    values = tensor.data.reshape(count, 28, 28).astype(np.float32)
    if tensor.datatype == "FP32":
        wrong = out_of_range(values)
        if wrong.size:
            raise bad(f"input 'pixels': element {wrong[0]} is {values.reshape(-1)[wrong[0]]:g}; values must be 0–255")
    results = await classify(serving, list(values))
    probabilities = np.stack([r.probabilities for r in results]).astype(np.float32)
    return [
        Tensor("probabilities", "FP32", [count, probabilities.shape[1]], probabilities),
        Tensor("label", "INT64", [count], probabilities.argmax(axis=1).astype(np.int64)),
    ]


def _house_values(tensor: Tensor, count: int) -> list[Any]:
    """One column's values as the JSON endpoint would receive them (NaN → missing)."""
    kind = HOUSE_KINDS[tensor.name]
    if tensor.datatype == "BYTES":
        if kind not in ("text", "code"):
            raise bad(f"input '{tensor.name}' is a number: send FP32 or FP64, not BYTES")
        try:
            return [value.decode("utf-8") or None for value in tensor.data.reshape(count)]  # "" = missing
        except UnicodeDecodeError as exc:
            raise bad(f"input '{tensor.name}': a value is not UTF-8 text") from exc
    if tensor.datatype not in NUMERIC or tensor.datatype == "BOOL":
        raise bad(f"input '{tensor.name}' takes numbers or BYTES, not {tensor.datatype}")
    if kind == "text":
        raise bad(f"input '{tensor.name}' is a category: send BYTES, not {tensor.datatype}")
    values = []
    for value in tensor.data.reshape(count).astype(np.float64).tolist():
        if math.isnan(value):
            values.append(None)
        elif math.isinf(value):
            raise bad(f"input '{tensor.name}': {value} is not a value (NaN means missing)")
        elif kind == "code":
            values.append(int(value) if value.is_integer() else value)
        else:
            values.append(value)
    return values


async def infer_house(serving: Serving, request: InferRequest, settings: Settings) -> list[Tensor]:
    unknown = [t.name for t in request.inputs if t.name not in HOUSE_KINDS]
    if unknown:
        raise bad(f"no input named {unknown[0]!r}: the house model's inputs are Kaggle's 79 column names")
    for tensor in request.inputs:
        if len(tensor.shape) not in (1, 2) or tensor.shape[1:] not in ([], [1]):
            raise bad(f"input '{tensor.name}' must have shape [N] (or [N, 1]), not {tensor.shape}")
    counts = {t.name: t.shape[0] for t in request.inputs}
    if len(set(counts.values())) > 1:
        raise bad(f"every input needs the same N; got {', '.join(f'{n} {c}' for n, c in counts.items())}")
    count = next(iter(counts.values()))
    if count == 0:
        raise bad("the inputs hold no houses (N = 0)")
    check_count(count, limit=settings.max_list_items, noun="houses")
    columns = {t.name: _house_values(t, count) for t in request.inputs}
    records = [{name: values[row] for name, values in columns.items()} for row in range(count)]
    prices = await price(serving, validate_house_rows(records, first_row=0))  # rows counted from 0, as tensors are
    warnings = np.array(["; ".join(p.warnings).encode() for p in prices], dtype=object)
    return [Tensor("sale_price", "FP64", [count], np.array([p.sale_price for p in prices], dtype=np.float64)),
            Tensor("warnings", "BYTES", [count], warnings)]  # fmt: skip


def poem_spec(text: str, parameters: dict[str, Any], serving: Serving, settings: Settings) -> PoemSpec:
    """The poem a protocol request asks for, validated and resolved exactly as /generate/poem's."""
    return poems.prepare(serving, poem_request(text, parameters), settings)


def poem_request(text: str, parameters: dict[str, Any]) -> PoemRequest:
    """The poem options as /generate/poem takes them, from the protocol's text input and parameters."""
    options = {k: v for k, v in parameters.items() if k not in PROTOCOL_PARAMETERS}
    if "start" in options:
        raise bad("give the start characters as text_input, not as the parameter 'start'")
    try:
        return PoemRequest.model_validate({"start": text, **options})
    except ValidationError as exc:
        raise invalid_fields(list(exc.errors())) from exc


def poem_tensor_spec(serving: Serving, request: InferRequest, settings: Settings) -> PoemSpec:
    """The poem an inference request asks for: its `text_input` tensor and its parameters, validated."""
    tensor = _only(request, "poem", "text_input")
    if tensor.datatype != "BYTES" or tensor.data.size != 1:
        raise bad(f"input 'text_input' must be one BYTES element, not {tensor.datatype} of shape {tensor.shape}")
    try:
        text = tensor.data.reshape(-1)[0].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise bad("input 'text_input' is not UTF-8 text") from exc
    return poem_spec(text, request.parameters, serving, settings)


async def infer_poem(serving: Serving, request: InferRequest, settings: Settings) -> list[Tensor]:
    spec = poem_tensor_spec(serving, request, settings)
    result = await poems.write(serving, spec)
    return [Tensor("text_output", "BYTES", [1], np.array([result["poem"].encode()], dtype=object))]


INFER: dict[str, Infer] = {"digit": infer_image, "fashion": infer_image, "house": infer_house, "poem": infer_poem}
