"""The Open Inference Protocol (KServe v2 / Triton HTTP), beside our own endpoints, on the same models.

Health, server and model metadata, model readiness, inference (JSON tensors and the binary tensor
data extension) and Triton's generate extension for every text-generation model. Every call goes through
the data plane (app/inference/dataplane.py), in the order every door keeps. Errors keep their HTTP status
and take the protocol's shape, `{"error": "..."}` (app/core/errors.py). Health and metadata are
open; inference needs the API key when one is set, as our own endpoints do.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse

from app.api.deps import PlaneDep, ServiceDep, SettingsDep
from app.api.security import client_identity, require_api_key
from app.api.streams import ClosingStreamingResponse
from app.api.v2_models import INFER, metadata, poem_spec
from app.api.v2_tensors import HEADER_LENGTH, bad, encode_infer_response, parse_infer_request, read_object
from app.core.config import Settings
from app.core.errors import NotFound
from app.inference import poems
from app.inference.dataplane import Admission, DataPlane
from app.models.service import ModelService, Serving
from app.predictors.poem_generation import PoemSpec
from app.schemas.common import error_responses
from app.schemas.model_meta import TEXT

PREFIX = "/v2"  # errors under it take the protocol's shape (app/api/errors.py)
router = APIRouter(prefix=PREFIX, tags=["v2 (Open Inference Protocol)"], responses=error_responses(404, 503, v2=True))
INFER_ERRORS = error_responses(400, 401, 413, v2=True)
EXTENSIONS = ["binary_tensor_data", "model_repository", "generate"]
INFER_BODY = {
    "requestBody": {
        "required": True,
        "description": "An inference request: JSON, or JSON followed by binary tensors (then the JSON's length "
        f"goes in the {HEADER_LENGTH} header).",
        "content": {
            "application/json": {
                "schema": {"type": "object", "required": ["inputs"], "properties": {"inputs": {"type": "array"}}},
                "example": {"inputs": [{"name": "pixels", "datatype": "UINT8", "shape": [1, 784], "data": [0] * 784}]},
            },
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}
GENERATE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {"text_input": {"type": "string"}, "parameters": {"type": "object"}},
                },
                "examples": {
                    "spring": {
                        "summary": "A 绝句 starting with 春",
                        "value": {"text_input": "春", "parameters": {"line_num": 4, "line_length": 7, "seed": 42}},
                    }
                },
            }
        },
    }
}
PROTECTED = [Depends(require_api_key)]


def known(service: ModelService, name: str) -> str:
    """The protocol doors' 404 for a name that is no model (checked before the data plane is asked)."""
    if not service.knows(name):
        raise NotFound(f"unknown model '{name}'; dlserve serves {', '.join(service.names) or 'no models'}")
    return name


@router.get("")
async def read_server_metadata(request: Request) -> dict[str, Any]:
    """Server metadata: name, version and the protocol extensions it speaks."""
    return {"name": request.app.title, "version": request.app.version, "extensions": EXTENSIONS}


@router.get("/health/live")
async def read_server_live() -> dict[str, bool]:
    """200 while the process is up."""
    return {"live": True}


@router.get("/health/ready", responses={400: {"description": "Not ready: some model is not loaded"}})
async def read_server_ready(service: ServiceDep) -> JSONResponse:
    """200 when every model is loaded and warmed; 400 (the protocol's "false") otherwise."""
    ready = service.ready
    return JSONResponse({"ready": ready}, status_code=200 if ready else 400)


def _model_ready(service: ModelService, name: str, version: str | None) -> JSONResponse:
    serving = service.status(known(service, name)).serving
    ready = serving is not None and (version is None or version == serving.version)
    return JSONResponse({"name": name, "ready": ready}, status_code=200 if ready else 400)


@router.get("/models/{name}/ready", responses={400: {"description": "Not ready"}})
async def read_model_ready(name: str, service: ServiceDep) -> JSONResponse:
    """200 when the model is loaded and warmed; 400 otherwise."""
    return _model_ready(service, name, None)


@router.get("/models/{name}/versions/{version}/ready", responses={400: {"description": "Not ready"}})
async def read_model_version_ready(name: str, version: str, service: ServiceDep) -> JSONResponse:
    """200 when this version of the model is the one loaded; 400 otherwise."""
    return _model_ready(service, name, version)


def model_metadata(plane: DataPlane, name: str, version: str | None) -> dict[str, Any]:
    """Both doors' model metadata: the model as served now, checked against the version asked for."""
    serving = plane.resolve(known(plane.service, name), version).serving
    assert serving is not None  # noqa: S101 - resolve() refuses a model that is down
    return metadata(name, serving.version, serving.loaded.spec)


@router.get("/models/{name}")
async def read_model_metadata(name: str, plane: PlaneDep) -> dict[str, Any]:
    """The model's versions, platform, and inputs and outputs (name, datatype, shape; -1 = any size)."""
    return model_metadata(plane, name, None)


@router.get("/models/{name}/versions/{version}")
async def read_model_version_metadata(name: str, version: str, plane: PlaneDep) -> dict[str, Any]:
    """The same metadata, for the version being served."""
    return model_metadata(plane, name, version)


async def _infer(request: Request, plane: DataPlane, settings: Settings, name: str, version: str | None) -> Response:
    # The model's 404/503 (and a poem's 429) before the body is read; the model is held only to run.
    async with plane.admit(known(plane.service, name), client_identity(request), version=version) as admission:
        body = await request.body()
        # Off the event loop: a JSON tensor of 200,000 numbers takes tens of milliseconds to check.
        parsed = await run_in_threadpool(parse_infer_request, body, request.headers.get(HEADER_LENGTH))
        request.state.model = name
        with admission.hold() as current:  # one version from here to the answer
            outputs = await INFER[current.task](current, parsed, settings)
            content, headers = encode_infer_response(name, current.version, outputs, parsed)
    request.state.batch_size = outputs[0].shape[0] if outputs and outputs[0].shape else 1
    media = "application/octet-stream" if HEADER_LENGTH in headers else "application/json"
    return Response(content, media_type=media, headers=headers)


@router.post("/models/{name}/infer", dependencies=PROTECTED, openapi_extra=INFER_BODY, responses=INFER_ERRORS)
async def infer(name: str, request: Request, plane: PlaneDep, settings: SettingsDep) -> Response:
    """Run the model on input tensors (JSON, or the binary tensor data extension); see docs/api.md for each task's."""
    return await _infer(request, plane, settings, name, None)


@router.post(
    "/models/{name}/versions/{version}/infer", dependencies=PROTECTED, openapi_extra=INFER_BODY, responses=INFER_ERRORS
)
async def infer_version(name: str, version: str, request: Request, plane: PlaneDep, settings: SettingsDep) -> Response:
    """The same, for the version being served."""
    return await _infer(request, plane, settings, name, version)


async def _generate_request(request: Request, admission: Admission, settings: Settings) -> tuple[Serving, PoemSpec]:
    """The poem a generate request asks for, on the model held until `admission` closes (read, then held)."""
    payload = read_object(await request.body())
    text, parameters = payload.get("text_input", ""), payload.get("parameters", {})
    if not isinstance(text, str) or not isinstance(parameters, dict):
        raise bad("text_input must be a string and parameters an object")
    # Held after the body arrived and before anything else is awaited: a reload while the body was still
    # arriving has swapped in the model this poem is written by, and it cannot be retired under the poem.
    current = admission.keep_for_stream()
    spec = poem_spec(text, parameters, current, settings)
    request.state.model, request.state.batch_size = current.name, 1
    return current, spec


@router.post("/models/{name}/generate", dependencies=PROTECTED, openapi_extra=GENERATE_BODY, responses=INFER_ERRORS)
async def generate(name: str, request: Request, plane: PlaneDep, settings: SettingsDep) -> dict[str, Any]:
    """Triton's generate extension: `text_input` = the start characters, the poem options as parameters."""
    async with plane.admit(known(plane.service, name), client_identity(request), task=TEXT) as admission:
        current, spec = await _generate_request(request, admission, settings)
        result = await poems.write(current, spec)
    return {"model_name": name, "model_version": current.version, "text_output": result["poem"],
            **{k: v for k, v in result.items() if k != "poem"}}  # fmt: skip


@router.post(
    "/models/{name}/generate_stream",
    dependencies=PROTECTED,
    openapi_extra=GENERATE_BODY,
    response_class=StreamingResponse,
    responses=INFER_ERRORS | {200: {"description": "Server-sent events", "content": {"text/event-stream": {}}}},
)
async def generate_stream(name: str, request: Request, plane: PlaneDep, settings: SettingsDep) -> StreamingResponse:
    """The same as server-sent events: one event per character (`text_output`), the last one with the whole poem."""
    admission = await plane.enter(known(plane.service, name), client_identity(request), task=TEXT)
    try:
        current, spec = await _generate_request(request, admission, settings)
        poem = poems.PoemStream(current, spec, streaming=True)  # a full queue is a 503 before the stream opens
    except BaseException:
        await admission.close()
        raise
    version = current.version

    async def events() -> AsyncIterator[str]:
        async for event in poem.events():
            if isinstance(event, poems.PoemChar):
                payload = {"model_name": name, "model_version": version, "text_output": event.char}
                request.state.first_char_ms = poem.first_char_ms
            elif isinstance(event, poems.PoemDone):
                payload = {"model_name": name, "model_version": version, "text_output": "", "final": True,
                           **event.poem}  # fmt: skip
            else:
                payload = {"error": event.detail}
            yield f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"

    async def close() -> None:
        poem.close()
        await admission.close()

    return ClosingStreamingResponse(events(), on_close=close, media_type="text/event-stream",
                                    headers={"Cache-Control": "no-cache"})  # fmt: skip
