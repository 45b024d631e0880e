"""Every model as the Open Inference Protocol sees it, by its task: its tensors, and how it is run.

- image-classification: input `pixels`, UINT8 or FP32, shape [N, H·W·C] (a Kaggle row) or [N, C, H, W],
  raw 0–255 values; outputs `probabilities` FP32 [N, classes] and `label` INT64 [N]. (digit, fashion:
  [N, 784] or [N, 1, 28, 28].)
- tabular-regression: one input per column of meta.json, each of shape [N] — numbers (FP32/FP64, or
  integers; NaN = missing) or BYTES for categories ("" = missing) — any column may be left out and is
  filled as in training; outputs `<field>` FP64 [N] (house: `sale_price`) and `warnings` BYTES [N] (each
  row's out-of-training-range warnings joined by "; ", "" when none). Rows are validated exactly as the
  REST door validates them.
- text-generation: input `text_input` BYTES [1] (the start characters, may be empty), the poem options as
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
from app.inference.images import classify
from app.inference.tabular import predict
from app.models.service import Serving
from app.predictors.poem_generation import PoemSpec
from app.schemas.model_meta import IMAGE, TABULAR, TEXT, ImageSpec, Spec, TabularSpec
from app.schemas.pixels import out_of_range
from app.schemas.poem import PoemRequest
from app.schemas.tabular import validate_rows

PLATFORM = "pytorch_torchscript"
COLUMN_TYPES = dict(category="BYTES", number="FP64")  # a code (MSSubClass) is INT64
# Request parameters that belong to the protocol, not to the poem.
PROTOCOL_PARAMETERS = {"binary_data_output", "sequence_id", "sequence_start", "sequence_end", "priority", "timeout"}
Infer = Callable[[Serving, InferRequest, Settings], Awaitable[list[Tensor]]]


def _spec(name: str, datatype: str, shape: list[int]) -> dict[str, Any]:
    return {"name": name, "datatype": datatype, "shape": shape}


def tensors(spec: Spec) -> dict[str, list[dict[str, Any]]]:
    """The model's inputs and outputs as the metadata lists them (one datatype and shape per tensor; FP32 and
    [N, C, H, W] images are accepted too)."""
    if isinstance(spec, ImageSpec):
        return {"inputs": [_spec("pixels", "UINT8", [-1, spec.pixels])],
                "outputs": [_spec("probabilities", "FP32", [-1, len(spec.classes)]),
                            _spec("label", "INT64", [-1])]}  # fmt: skip
    if isinstance(spec, TabularSpec):
        return {"inputs": [_spec(c.name, COLUMN_TYPES.get(c.kind, "INT64"), [-1]) for c in spec.columns],
                "outputs": [_spec(spec.field, "FP64", [-1]), _spec("warnings", "BYTES", [-1])]}  # fmt: skip
    return {"inputs": [_spec("text_input", "BYTES", [1])], "outputs": [_spec("text_output", "BYTES", [1])]}


def metadata(name: str, version: str, spec: Spec) -> dict[str, Any]:
    return {"name": name, "versions": [version], "platform": PLATFORM, **tensors(spec)}


def _only(request: InferRequest, model: str, name: str) -> Tensor:
    names = [t.name for t in request.inputs]
    if names != [name]:
        raise bad(f"the {model} model takes one input, '{name}'; got {', '.join(repr(n) for n in names)}")
    return request.inputs[0]


async def infer_image(serving: Serving, request: InferRequest, settings: Settings) -> list[Tensor]:
    model, spec = serving.loaded.name, serving.loaded.spec
    assert isinstance(spec, ImageSpec)  # noqa: S101 - INFER routes image models here
    tensor = _only(request, model, "pixels")
    if tensor.datatype not in ("UINT8", "FP32"):
        raise bad(f"input 'pixels' must be UINT8 or FP32 (raw 0–255 values), not {tensor.datatype}")
    planar = [spec.channels, spec.height, spec.width]
    if len(tensor.shape) not in (2, 4) or tensor.shape[1:] not in ([spec.pixels], planar):
        raise bad(f"input 'pixels' must have shape [N, {spec.pixels}] or [N, {', '.join(map(str, planar))}], "
                  f"not {tensor.shape}")  # fmt: skip
    count = tensor.shape[0]
    if count == 0:
        raise bad("input 'pixels' holds no images (N = 0)")
    check_count(count, limit=settings.max_list_items, noun="images")
    values = tensor.data.astype(np.float32)
    if len(tensor.shape) == 4 and spec.channels > 1:  # [N, C, H, W] → the API's H×W×C
        values = values.transpose(0, 2, 3, 1)
    values = np.ascontiguousarray(values).reshape(count, *spec.shape)
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


def _column_values(tensor: Tensor, kind: str, count: int) -> list[Any]:
    """One column's values as the JSON endpoint would receive them (NaN → missing)."""
    if tensor.datatype == "BYTES":
        if kind not in ("category", "code"):
            raise bad(f"input '{tensor.name}' is a number: send FP32 or FP64, not BYTES")
        try:
            return [value.decode("utf-8") or None for value in tensor.data.reshape(count)]  # "" = missing
        except UnicodeDecodeError as exc:
            raise bad(f"input '{tensor.name}': a value is not UTF-8 text") from exc
    if tensor.datatype not in NUMERIC or tensor.datatype == "BOOL":
        raise bad(f"input '{tensor.name}' takes numbers or BYTES, not {tensor.datatype}")
    if kind == "category":
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


async def infer_rows(serving: Serving, request: InferRequest, settings: Settings) -> list[Tensor]:
    spec = serving.loaded.spec
    assert isinstance(spec, TabularSpec)  # noqa: S101 - INFER routes tabular models here
    kinds = {column.name: column.kind for column in spec.columns}
    unknown = [t.name for t in request.inputs if t.name not in kinds]
    if unknown:
        raise bad(f"no input named {unknown[0]!r}: the {serving.name} model's inputs are its {len(kinds)} column "
                  "names")  # fmt: skip
    for tensor in request.inputs:
        if len(tensor.shape) not in (1, 2) or tensor.shape[1:] not in ([], [1]):
            raise bad(f"input '{tensor.name}' must have shape [N] (or [N, 1]), not {tensor.shape}")
    counts = {t.name: t.shape[0] for t in request.inputs}
    if len(set(counts.values())) > 1:
        raise bad(f"every input needs the same N; got {', '.join(f'{n} {c}' for n, c in counts.items())}")
    count = next(iter(counts.values()))
    if count == 0:
        raise bad(f"the inputs hold no {spec.row_noun} (N = 0)")
    check_count(count, limit=settings.max_list_items, noun=spec.row_noun)
    columns = {t.name: _column_values(t, kinds[t.name], count) for t in request.inputs}
    records = [{name: values[row] for name, values in columns.items()} for row in range(count)]
    found = await predict(serving, validate_rows(spec, records, first_row=0))  # rows counted from 0, as tensors are
    warnings = np.array(["; ".join(p.warnings).encode() for p in found], dtype=object)
    return [Tensor(spec.field, "FP64", [count], np.array([p.value for p in found], dtype=np.float64)),
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
    tensor = _only(request, serving.name, "text_input")
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


INFER: dict[str, Infer] = {IMAGE: infer_image, TABULAR: infer_rows, TEXT: infer_poem}  # by task
