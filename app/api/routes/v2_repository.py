"""The model repository API of the Open Inference Protocol: list, load (reload) and unload models.

The index is read-only metadata (what `/models` says too), open to anyone who can read `/models`.
Load and unload are the administrative surface, off unless MODEL_CONTROL=explicit and then only with
the admin key (app/api/security.py), one at a time per admin (PER_CLIENT_RELOADS). `load` reads the model's folder
again from MODEL_DIR, verifies its sha256, loads and warms it on the configured device and only then
swaps it in (app/models/service.py): requests in flight finish on the old version, and if anything
fails the old version keeps serving and the answer says why. dlserve loads models only from its
MODEL_DIR: a load request carrying a model configuration or files is refused.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Depends, Request

from app.api.deps import ServiceDep, per_client
from app.api.routes.v2 import known
from app.api.security import admin_identity, require_model_control
from app.api.v2_tensors import as_object, bad, read_object
from app.core.errors import BadRequest
from app.models.registry import describe_failure
from app.models.repository import META
from app.models.service import ModelService, Serving
from app.schemas.common import error_responses
from app.schemas.model_meta import NAME_PATTERN

# The control check first: with MODEL_CONTROL=none the answer is the same whoever asks.
ADMIN = [Depends(require_model_control), Depends(per_client("reload", identify=admin_identity))]
ADMIN_ERRORS = error_responses(400, 401, 403, 404, 429, v2=True)
router = APIRouter(prefix="/v2/repository", tags=["v2 (Open Inference Protocol)"])
logger = logging.getLogger("dlserve.models")


async def _parameters(request: Request) -> dict[str, Any]:
    payload = read_object(await request.body(), allow_empty=True)
    return as_object(payload.get("parameters", {}), "'parameters'")


def repository_index(service: ModelService, *, ready_only: bool = False) -> list[dict[str, Any]]:
    """Every model with its version and state (READY or UNAVAILABLE, with the reason): both doors' index."""
    index = []
    for status in map(service.status, service.names):
        if status.serving is not None:
            index.append({"name": status.name, "version": status.serving.version, "state": "READY"})
        elif not ready_only:
            index.append({"name": status.name, "state": "UNAVAILABLE", "reason": status.reason})
    return index


def loadable(service: ModelService, name: str) -> None:
    """A model of the repository, or a folder of MODEL_DIR with a meta.json that could become one; else 404."""
    folder = service.settings.model_dir / name
    if not (NAME_PATTERN.match(name) and (folder / META).is_file()):
        known(service, name)


async def reload(service: ModelService, name: str, parameters: dict[str, Any]) -> Serving:
    """Load the model's folder (again, or for the first time: a folder added to MODEL_DIR since start-up) and swap
    it in (both doors); a BadRequest saying why when it cannot."""
    loadable(service, name)
    if "config" in parameters or any(key.startswith("file:") for key in parameters):
        raise bad("dlserve loads models only from its MODEL_DIR: a configuration or files in the request are refused")
    previous = service.status(name).serving
    try:
        return await service.load(name)
    except Exception as exc:
        reason = describe_failure(exc)
        logger.warning("model %s was not reloaded: %s", name, reason)
        keeps = f"version '{previous.version}' keeps serving" if previous else "it stays unavailable"
        raise BadRequest(f"failed to load '{name}': {reason}; {keeps}", code="load_failed") from exc


@router.post("/index", responses=error_responses(400, v2=True))
async def read_repository_index(service: ServiceDep) -> list[dict[str, Any]]:
    """Every model with its version and state (READY or UNAVAILABLE, with the reason)."""
    return repository_index(service)


@router.post("/models/{name}/load", dependencies=ADMIN, responses=ADMIN_ERRORS)
async def load_model(name: str, request: Request, service: ServiceDep) -> dict[str, Any]:
    """Load the model's folder again from MODEL_DIR and swap it in once verified and warmed (in-flight requests
    finish on the old version; on failure the old version keeps serving)."""
    serving = await reload(service, name, await _parameters(request))
    load_seconds = round(serving.loaded.load_seconds, 3)
    return {"name": name, "version": serving.version, "state": "READY", "load_seconds": load_seconds}


@router.post("/models/{name}/unload", dependencies=ADMIN, responses=ADMIN_ERRORS)
async def unload_model(name: str, request: Request, service: ServiceDep) -> dict[str, Any]:
    """Take the model out of service until it is loaded again (its endpoints answer 503 saying so)."""
    known(service, name)
    await _parameters(request)
    await service.unload(name)
    return {"name": name, "state": "UNAVAILABLE"}
