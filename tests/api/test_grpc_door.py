"""The gRPC door's parts, without a server: the generated modules, tensors from messages, status codes, settings."""

from __future__ import annotations

import asyncio
import re

import grpc
import numpy as np
import pytest
from pydantic import ValidationError

from app.api.grpc_v2 import grpc_predict_v2_pb2 as pb
from app.api.grpc_v2.calls import peer_address, status_of
from app.api.grpc_v2.server import bind_address, start_grpc
from app.api.grpc_v2.tensors import infer_request, parameters
from app.core.config import Settings
from app.core.errors import BadRequest, InvalidInput, TooLarge, TooManyRequests, Unauthorized, Unavailable
from tools.generate_grpc import GENERATED, PROTO, ROOT, generate

Input = pb.ModelInferRequest.InferInputTensor


def test_the_committed_modules_are_what_the_proto_generates(tmp_path):
    for path, name in zip(generate(tmp_path), GENERATED, strict=True):
        committed = (ROOT / PROTO.parent / name).read_text()
        assert path.read_text() == committed, f"{name} is stale: run python -m tools.generate_grpc"


def test_our_messages_and_tritons_live_in_one_process():
    from tritonclient.grpc import service_pb2  # the same `inference.*` names, in the default pool

    ours = pb.ModelInferRequest(model_name="digit", raw_input_contents=[b"\x01"])
    assert service_pb2.ModelInferRequest.FromString(ours.SerializeToString()).model_name == "digit"


def request(*inputs: Input, raw: list[bytes] | None = None) -> pb.ModelInferRequest:
    return pb.ModelInferRequest(model_name="digit", inputs=list(inputs), raw_input_contents=raw or [])


def typed(datatype: str, field: str, values: list, shape: list[int] | None = None) -> Input:
    tensor = Input(name="x", datatype=datatype, shape=shape or [len(values)])
    getattr(tensor.contents, field).extend(values)
    return tensor


@pytest.mark.parametrize(
    ("datatype", "field", "values", "dtype"),
    [
        ("UINT8", "uint_contents", [0, 255], np.uint8),
        ("INT8", "int_contents", [-128, 127], np.int8),
        ("INT64", "int64_contents", [-(2**40), 2**40], np.int64),
        ("FP32", "fp32_contents", [0.5, 255.0], np.float32),
        ("FP64", "fp64_contents", [float("nan"), 1e300], np.float64),
        ("BOOL", "bool_contents", [True, False], np.bool_),
    ],
)
def test_typed_contents_become_arrays_of_their_datatype(datatype, field, values, dtype):
    tensor = infer_request(request(typed(datatype, field, values))).inputs[0]
    assert tensor.data.dtype == dtype and tensor.shape == [2]
    np.testing.assert_array_equal(tensor.data, np.array(values, dtype=dtype))


def test_bytes_contents_and_raw_contents():
    words = infer_request(request(typed("BYTES", "bytes_contents", [b"a", "春".encode()]))).inputs[0]
    assert words.data.tolist() == [b"a", "春".encode()]
    raw = infer_request(request(Input(name="x", datatype="UINT16", shape=[2]), raw=[b"\x01\x00\x02\x00"]))
    assert raw.inputs[0].data.tolist() == [1, 2]


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (request(typed("INT8", "int_contents", [1, 200])), "element 1 is 200, which does not fit INT8"),
        (request(typed("FP16", "fp32_contents", [1.0])), "FP16 data can only be sent as raw_input_contents"),
        (request(typed("FP32", "fp32_contents", [1.0, 2.0], shape=[3])), "holds 3 elements but contents.fp32"),
        (request(typed("UINT8", "int_contents", [1])), "UINT8 data goes in contents.uint_contents"),
        (request(typed("UINT8", "uint_contents", [1]), raw=[b"\x01"]), "has contents, but the request sends raw"),
        (request(Input(name="x", datatype="UINT8", shape=[-1]), raw=[b""]), "has a negative dimension"),
        (request(Input(name="x", datatype="COMPLEX", shape=[1])), "datatype 'COMPLEX' is not one of"),
        (request(Input(name="", datatype="UINT8", shape=[1])), "input 0 has no name"),
        (request(), "needs at least one input"),
    ],
    ids=["range", "fp16", "count", "field", "both", "shape", "datatype", "name", "empty"],
)
def test_malformed_tensors_are_bad_requests_that_say_what_is_wrong(message, expected):
    with pytest.raises(BadRequest, match=re.escape(expected)):
        infer_request(message)


def test_parameters_keep_their_types():
    message = pb.ModelInferRequest()
    message.parameters["seed"].int64_param = 7
    message.parameters["temperature"].double_param = 0.8
    message.parameters["rhyme"].string_param = "pingshui"
    message.parameters["binary"].bool_param = True
    assert parameters(message.parameters) == {"seed": 7, "temperature": 0.8, "rhyme": "pingshui", "binary": True}


def test_each_failure_has_its_status_code():
    assert status_of(BadRequest("x")) == grpc.StatusCode.INVALID_ARGUMENT
    assert status_of(InvalidInput("x")) == grpc.StatusCode.INVALID_ARGUMENT
    assert status_of(TooLarge("x")) == grpc.StatusCode.INVALID_ARGUMENT  # the request must change, not be retried
    assert status_of(Unauthorized("x")) == grpc.StatusCode.UNAUTHENTICATED
    assert status_of(TooManyRequests("x")) == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert status_of(Unavailable("x", code="queue_full")) == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert status_of(Unavailable("the digit model is unavailable")) == grpc.StatusCode.UNAVAILABLE


def test_peers_and_bind_addresses():
    assert peer_address("ipv4:127.0.0.2:50051") == "127.0.0.2"
    assert peer_address("ipv6:[::1]:50051") == "::1"
    assert peer_address("unix:/tmp/socket") is None
    assert bind_address("0.0.0.0", 8001) == "0.0.0.0:8001" and bind_address("::", 8001) == "[::]:8001"


def test_grpc_port_defaults_to_tritons_and_cannot_be_the_http_port():
    assert Settings.model_fields["grpc_port"].default == 8001
    with pytest.raises(ValidationError, match="GRPC_PORT and PORT are both 8000"):
        Settings(grpc_port=8000, port=8000)


def test_grpc_port_0_starts_no_server():
    class Servicer:
        settings = Settings(grpc_port=0)

    assert asyncio.run(start_grpc(Servicer())) is None
