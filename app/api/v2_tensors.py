"""Tensors of the Open Inference Protocol (KServe v2 / Triton HTTP): reading requests, writing responses.

A request is a JSON object `{"inputs": [{"name", "datatype", "shape", "data"}], "outputs": [...]}`.
With the binary tensor data extension the body is that JSON (its length in the header
`Inference-Header-Content-Length`) followed by the raw tensors in the order of the inputs that carry
`"parameters": {"binary_data_size": n}`: little-endian, row-major; a BYTES element is a 4-byte
little-endian length and its bytes. Responses mirror it: an output asked for with
`"binary_data": true` (or every output, with the request parameter `binary_data_output`) follows the
JSON as raw bytes. Every malformed tensor is a 400 that says what is wrong (rendered `{"error": ...}`).
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from app.core import fast_json
from app.core.errors import BadRequest

HEADER_LENGTH = "Inference-Header-Content-Length"
NUMERIC = {
    "BOOL": np.dtype("?"),
    "UINT8": np.dtype("<u1"),
    "UINT16": np.dtype("<u2"),
    "UINT32": np.dtype("<u4"),
    "UINT64": np.dtype("<u8"),
    "INT8": np.dtype("<i1"),
    "INT16": np.dtype("<i2"),
    "INT32": np.dtype("<i4"),
    "INT64": np.dtype("<i8"),
    "FP16": np.dtype("<f2"),
    "FP32": np.dtype("<f4"),
    "FP64": np.dtype("<f8"),
}
DATATYPES = (*NUMERIC, "BYTES")


def bad(message: str) -> BadRequest:
    return BadRequest(message, code="invalid_tensor")


@dataclass
class Tensor:
    name: str
    datatype: str
    shape: list[int]
    data: np.ndarray  # numeric: that dtype, in `shape`; BYTES: an object array of bytes, in `shape`


@dataclass
class InferRequest:
    inputs: list[Tensor]
    request_id: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    outputs: list[str] | None = None  # the outputs asked for, by name; None = all
    binary_outputs: set[str] = field(default_factory=set)
    all_binary: bool = False


def as_object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise bad(f"{what} must be a JSON object")
    return value


def read_object(body: bytes, *, allow_empty: bool = False) -> dict[str, Any]:
    """A request body that must be one JSON object (an empty one is {} where allowed); a 400 otherwise."""
    if not body.strip():
        if allow_empty:
            return {}
        raise bad("the request body is empty: send a JSON object")
    try:
        payload = fast_json.loads(body)
    except ValueError as exc:
        raise bad(f"the request is not valid JSON: {exc}") from exc
    return as_object(payload, "the request")


def _split_body(body: bytes, header_length: str | None) -> tuple[bytes, bytes]:
    if header_length is None:
        return body, b""
    if not header_length.strip().isdigit():
        raise bad(f"{HEADER_LENGTH} must be a whole number of bytes, not {header_length!r}")
    length = int(header_length)
    if length == 0 or length > len(body):
        raise bad(f"{HEADER_LENGTH} is {length} but the body has {len(body)} bytes")
    return body[:length], body[length:]


def _shape(value: Any, name: str) -> list[int]:
    if not isinstance(value, list) or not all(isinstance(d, int) and not isinstance(d, bool) for d in value):
        raise bad(f"input '{name}': shape must be a list of whole numbers, got {value!r}")
    if any(d < 0 for d in value):
        raise bad(f"input '{name}': shape {value} has a negative dimension")
    return value


def _flatten(data: Any) -> list[Any]:
    if not isinstance(data, list):
        return [data]
    flat: list[Any] = []
    stack = [iter(data)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, list):
                stack.append(iter(item))
                break
            flat.append(item)
        else:
            stack.pop()
    return flat


def _from_json(name: str, datatype: str, shape: list[int], data: Any) -> np.ndarray:
    values = _flatten(data)
    count = math.prod(shape)
    if len(values) != count:
        raise bad(f"input '{name}': shape {shape} holds {count} elements but data has {len(values)}")
    if datatype == "BYTES":
        if not all(isinstance(v, str) for v in values):
            raise bad(f"input '{name}': BYTES data must be strings in JSON")
        return np.array([v.encode() for v in values], dtype=object).reshape(shape)
    wanted = bool if datatype == "BOOL" else (int, float)
    for index, value in enumerate(values):
        if isinstance(value, bool) != (datatype == "BOOL") or not isinstance(value, wanted):
            raise bad(f"input '{name}': element {index} is {value!r}, not a {datatype} value")
    try:
        return np.array(values, dtype=NUMERIC[datatype]).reshape(shape)
    except (OverflowError, ValueError) as exc:
        raise bad(f"input '{name}': a value does not fit {datatype} ({exc})") from exc


def from_raw(name: str, datatype: str, shape: list[int], raw: bytes) -> np.ndarray:
    count = math.prod(shape)
    if datatype != "BYTES":
        expected = count * NUMERIC[datatype].itemsize
        if len(raw) != expected:
            raise bad(
                f"input '{name}': shape {shape} of {datatype} is {expected} bytes, binary_data_size says {len(raw)}"
            )
        return np.frombuffer(raw, dtype=NUMERIC[datatype]).reshape(shape)
    elements, offset = [], 0
    while offset < len(raw):
        if offset + 4 > len(raw):
            raise bad(f"input '{name}': BYTES element {len(elements)} is cut short (no room for its length)")
        (size,) = struct.unpack_from("<I", raw, offset)
        if offset + 4 + size > len(raw):
            raise bad(f"input '{name}': BYTES element {len(elements)} says {size} bytes, past the end of its data")
        elements.append(raw[offset + 4 : offset + 4 + size])
        offset += 4 + size
    if len(elements) != count:
        raise bad(f"input '{name}': shape {shape} holds {count} elements but the binary data has {len(elements)}")
    return np.array(elements, dtype=object).reshape(shape)


def parse_infer_request(body: bytes, header_length: str | None) -> InferRequest:
    """An inference request from its body (JSON, or JSON + binary tensors); a 400 naming what is wrong."""
    head, binary = _split_body(body, header_length)
    payload = read_object(head)
    inputs = payload.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise bad("the request needs a non-empty list of 'inputs'")
    parameters = as_object(payload.get("parameters", {}), "'parameters'")
    tensors, offset = [], 0
    for position, spec in enumerate(inputs):
        spec = as_object(spec, f"input {position}")
        name, datatype = spec.get("name"), spec.get("datatype")
        if not isinstance(name, str) or not name:
            raise bad(f"input {position} has no 'name'")
        if any(t.name == name for t in tensors):
            raise bad(f"input '{name}' is given twice")
        if datatype not in DATATYPES:
            raise bad(f"input '{name}': datatype {datatype!r} is not one of {', '.join(DATATYPES)}")
        shape = _shape(spec.get("shape"), name)
        size = as_object(spec.get("parameters", {}), f"input '{name}' parameters").get("binary_data_size")
        if size is not None:
            if not isinstance(size, int) or isinstance(size, bool) or size < 0:
                raise bad(f"input '{name}': binary_data_size must be a whole number of bytes")
            if offset + size > len(binary):
                raise bad(f"input '{name}': binary_data_size {size} runs past the {len(binary)} bytes after the JSON")
            data = from_raw(name, datatype, shape, binary[offset : offset + size])
            offset += size
        elif "data" in spec:
            data = _from_json(name, datatype, shape, spec["data"])
        else:
            raise bad(f"input '{name}' has neither 'data' nor a binary_data_size")
        tensors.append(Tensor(name, datatype, shape, data))
    if offset != len(binary):
        raise bad(f"{len(binary) - offset} bytes after the JSON belong to no input (check binary_data_size)")
    request = InferRequest(tensors, parameters=parameters)
    if "id" in payload:
        request.request_id = str(payload["id"])
    all_binary = parameters.get("binary_data_output", False)
    request.all_binary = all_binary is True
    if "outputs" in payload:
        outputs = payload["outputs"]
        if not isinstance(outputs, list):
            raise bad("'outputs' must be a list")
        request.outputs = []
        for position, spec in enumerate(outputs):
            spec = as_object(spec, f"output {position}")
            if not isinstance(spec.get("name"), str):
                raise bad(f"output {position} has no 'name'")
            request.outputs.append(spec["name"])
            if as_object(spec.get("parameters", {}), "output parameters").get("binary_data") is True:
                request.binary_outputs.add(spec["name"])
    return request


def to_raw(tensor: Tensor) -> bytes:
    """A tensor's data as the protocol's raw bytes (little-endian, row-major; BYTES length-prefixed)."""
    if tensor.datatype == "BYTES":
        return b"".join(struct.pack("<I", len(v)) + v for v in tensor.data.reshape(-1))
    return np.ascontiguousarray(tensor.data, dtype=NUMERIC[tensor.datatype]).tobytes()


def _json_data(tensor: Tensor) -> list[Any]:
    flat = tensor.data.reshape(-1)
    if tensor.datatype == "BYTES":
        return [v.decode("utf-8", errors="replace") for v in flat]
    return flat.tolist()


def chosen_outputs(model: str, outputs: list[Tensor], wanted: list[str] | None) -> list[Tensor]:
    """The outputs a request asked for (all when it named none); a 400 for a name the model has not."""
    if wanted is None:
        return outputs
    known = {t.name for t in outputs}
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise bad(f"no output named {unknown[0]!r}; {model} has {', '.join(sorted(known))}")
    return [t for t in outputs if t.name in wanted]


def encode_infer_response(
    model: str, version: str, outputs: list[Tensor], request: InferRequest
) -> tuple[bytes, dict[str, str]]:
    """The response body and its extra headers: JSON, then any binary outputs in order."""
    described, binaries = [], []
    for tensor in chosen_outputs(model, outputs, request.outputs):
        entry: dict[str, Any] = {"name": tensor.name, "datatype": tensor.datatype, "shape": tensor.shape}
        if request.all_binary or tensor.name in request.binary_outputs:
            raw = to_raw(tensor)
            entry["parameters"] = {"binary_data_size": len(raw)}
            binaries.append(raw)
        else:
            entry["data"] = _json_data(tensor)
        described.append(entry)
    response: dict[str, Any] = {"model_name": model, "model_version": version, "outputs": described}
    if request.request_id is not None:
        response["id"] = request.request_id
    head = orjson.dumps(response)
    if not binaries:
        return head, {}
    return head + b"".join(binaries), {HEADER_LENGTH: str(len(head))}
