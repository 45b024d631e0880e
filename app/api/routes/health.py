"""Liveness and readiness probes."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from app.api.deps import ServiceDep

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
    statuses = [service.status(name) for name in service.names]
    models = {s.name: "ready" if s.ready else f"down: {s.reason}" for s in statuses}
    down = [s for s in statuses if not s.ready]
    if not down:
        return JSONResponse({"status": "ready", "models": models})
    detail = "not ready: " + "; ".join(f"{s.name} ({s.reason})" for s in down)
    return JSONResponse({"detail": detail, "code": "not_ready", "models": models}, status_code=503)
