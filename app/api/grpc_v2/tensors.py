"""The protocol's gRPC messages as the tensors of app/api/v2_tensors.py, and the model's tensors back.

A request's tensor data comes either as `raw_input_contents` (one bytes entry per input, the layout of
the binary tensor extension over REST) or in each input's typed `contents`, never both; every
malformed tensor is an INVALID_ARGUMENT saying what is wrong (the same BadRequest the REST door
raises). Responses always carry `raw_output_contents`, as Triton's do: the cheapest to write and read.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from google.protobuf.message import Message

from app.api.grpc_v2 import grpc_predict_v2_pb2 as pb
from app.api.v2_tensors import DATATYPES, NUMERIC, InferRequest, Tensor, bad, chosen_outputs, from_raw, to_raw

# Where each datatype's values go in InferTensorContents, and the type that field holds. FP16 has none:
# it can only be sent raw.
CONTENTS = {
    "BOOL": ("bool_contents", np.dtype("?")),
    "INT8": ("int_contents", np.dtype("<i4")),
    "INT16": ("int_contents", np.dtype("<i4")),
    "INT32": ("int_contents", np.dtype("<i4")),
    "INT64": ("int64_contents", np.dtype("<i8")),
    "UINT8": ("uint_contents", np.dtype("<u4")),
    "UINT16": ("uint_contents", np.dtype("<u4")),
    "UINT32": ("uint_contents", np.dtype("<u4")),
    "UINT64": ("uint64_contents", np.dtype("<u8")),
    "FP32": ("fp32_contents", np.dtype("<f4")),
    "FP64": ("fp64_contents", np.dtype("<f8")),
}


OutputTensor = pb.ModelInferResponse.InferOutputTensor


def parameters(entries: Any) -> dict[str, Any]:
    """A protobuf map of InferParameter (or ModelRepositoryParameter) as a plain dict."""
    return {key: getattr(value, value.WhichOneof("parameter_choice")) for key, value in entries.items()
            if value.WhichOneof("parameter_choice") is not None}  # fmt: skip


def _shape(name: str, shape: Any) -> list[int]:
    dims = list(shape)
    if any(d < 0 for d in dims):
        raise bad(f"input '{name}': shape {dims} has a negative dimension")
    return dims


def _from_contents(name: str, datatype: str, shape: list[int], contents: Message) -> np.ndarray:
    count = math.prod(shape)
    given = [field.name for field, _ in contents.ListFields()]
    if datatype == "BYTES":
        wanted, held = "bytes_contents", None
    elif datatype in CONTENTS:
        wanted, held = CONTENTS[datatype]
    else:
        raise bad(f"input '{name}': {datatype} data can only be sent as raw_input_contents")
    if [field for field in given if field != wanted]:
        raise bad(f"input '{name}': {datatype} data goes in contents.{wanted}, not contents.{given[0]}")
    values = getattr(contents, wanted)
    if len(values) != count:
        raise bad(f"input '{name}': shape {shape} holds {count} elements but contents.{wanted} has {len(values)}")
    if held is None:
        return np.array(list(values), dtype=object).reshape(shape)
    array = np.array(values, dtype=held)
    target = NUMERIC[datatype]
    if target.kind in "iu" and target != held and array.size:
        limits = np.iinfo(target)
        if array.min() < limits.min or array.max() > limits.max:
            wrong = int(np.flatnonzero((array < limits.min) | (array > limits.max))[0])
            raise bad(f"input '{name}': element {wrong} is {array[wrong]}, which does not fit {datatype}")
    return array.astype(target).reshape(shape)


def infer_request(message: pb.ModelInferRequest) -> InferRequest:
    """The request's tensors, validated; a BadRequest (INVALID_ARGUMENT) naming what is wrong."""
    if not message.inputs:
        raise bad("the request needs at least one input")
    raw = list(message.raw_input_contents)
    if raw and len(raw) != len(message.inputs):
        raise bad(f"raw_input_contents has {len(raw)} entries for {len(message.inputs)} inputs (one each, in order)")
    tensors: list[Tensor] = []
    for position, spec in enumerate(message.inputs):
        name, datatype = spec.name, spec.datatype
        if not name:
            raise bad(f"input {position} has no name")
        if any(t.name == name for t in tensors):
            raise bad(f"input '{name}' is given twice")
        if datatype not in DATATYPES:
            raise bad(f"input '{name}': datatype {datatype!r} is not one of {', '.join(DATATYPES)}")
        shape = _shape(name, spec.shape)
        if raw:
            if spec.HasField("contents"):
                raise bad(f"input '{name}' has contents, but the request sends raw_input_contents (one or the other)")
            data = from_raw(name, datatype, shape, raw[position])
        elif spec.HasField("contents"):
            data = _from_contents(name, datatype, shape, spec.contents)
        else:
            raise bad(f"input '{name}' has no data: send contents, or raw_input_contents for every input")
        tensors.append(Tensor(name, datatype, shape, data))
    request = InferRequest(tensors, parameters=parameters(message.parameters))
    request.request_id = message.id or None
    if message.outputs:
        request.outputs = [output.name for output in message.outputs]
    return request


def infer_response(model: str, version: str, outputs: list[Tensor], request: InferRequest) -> pb.ModelInferResponse:
    chosen = chosen_outputs(model, outputs, request.outputs)
    return pb.ModelInferResponse(
        model_name=model,
        model_version=version,
        id=request.request_id or "",
        outputs=[OutputTensor(name=t.name, datatype=t.datatype, shape=t.shape) for t in chosen],
        raw_output_contents=[to_raw(t) for t in chosen],
    )


def text_response(model: str, version: str, text: str, request_id: str | None, **extra: Any) -> pb.ModelInferResponse:
    """One BYTES `text_output` (a poem, or a character of a streamed one), with response parameters."""
    text_output = Tensor("text_output", "BYTES", [1], np.array([text.encode()], dtype=object))
    response = infer_response(model, version, [text_output], InferRequest([], request_id=request_id))
    for key, value in extra.items():
        set_parameter(response.parameters[key], value)
    return response


def set_parameter(parameter: pb.InferParameter, value: Any) -> None:
    if isinstance(value, bool):
        parameter.bool_param = value
    elif isinstance(value, int):
        parameter.int64_param = value
    elif isinstance(value, float):
        parameter.double_param = value
    else:
        parameter.string_param = str(value)
