"""GET /models and /models/{name}: what is loaded, where, and how good it is."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from app.api.deps import ServiceDep
from app.models.service import ModelService

router = APIRouter(prefix="/models", tags=["models"])

SUMMARY_KEYS = ("version", "task", "metrics", "baseline", "input", "output", "sha256", "created", "torch_version")


def describe(service: ModelService, name: str, *, full: bool) -> dict[str, Any]:
    status = service.status(name)
    if status.serving is None:
        return {"name": name, "status": "down", "reason": status.reason, "task": status.task}
    loaded = status.serving.loaded
    meta = loaded.meta if full else {k: loaded.meta[k] for k in SUMMARY_KEYS if k in loaded.meta}
    return {
        "name": name,
        "status": "ready",
        "device": str(loaded.device),
        "load_seconds": round(loaded.load_seconds, 3),
        "optimized": loaded.optimized,
        "backend": {"name": loaded.backend.name, "precision": loaded.backend.precision, "why": loaded.backend.why},
        **meta,
    }


@router.get("")
async def read_models(service: ServiceDep) -> list[dict[str, Any]]:
    """Every model: status, version, device, load time, metrics against the course baseline, sha256, input spec."""
    return [describe(service, name, full=False) for name in service.names]


@router.get("/{name}", responses={404: {"description": "No such model"}})
async def read_model(name: str, service: ServiceDep) -> dict[str, Any]:
    """One model's full metadata (meta.json) with its status, device and load time."""
    if not service.knows(name):
        raise service.unknown(name)
    return describe(service, name, full=True)
