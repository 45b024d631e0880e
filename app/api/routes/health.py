"""Liveness and readiness probes."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from app.api.deps import ServiceDep
from app.core.errors import error_body
from app.models.registry import MODEL_NAMES

router = APIRouter(prefix="/health", tags=["health"])


ALIVE = b'{"status":"alive"}'


class Liveness(BaseModel):
    status: Literal["alive"]


# Probes run many times a second: the answer is a constant, sent as bytes without validation.
@router.get("/live", response_model=Liveness)
async def read_liveness() -> Response:
    """The process is up (it says nothing about the models)."""
    return Response(ALIVE, media_type="application/json")


@router.get("/ready", responses={503: {"description": "At least one model is not loaded and warmed"}})
async def read_readiness(service: ServiceDep) -> JSONResponse:
    """200 only when every model is loaded and warmed; otherwise 503 naming the ones that are not, and why."""
    registry = service.registry
    models = {
        name: "ready" if name in registry.warmed else f"down: {registry.failures.get(name, 'not loaded')}"
        for name in MODEL_NAMES
    }
    if registry.ready:
        return JSONResponse({"status": "ready", "models": models})
    down = [name for name in MODEL_NAMES if name not in registry.warmed]
    detail = "not ready: " + "; ".join(f"{name} ({registry.failures.get(name, 'not loaded')})" for name in down)
    return JSONResponse(error_body(detail, "not_ready", models=models), status_code=503)
