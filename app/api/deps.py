"""Shared dependencies of the routes, as `Annotated` aliases."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Annotated

from fastapi import Depends, Request

from app.api.security import client_identity
from app.core.client_limits import ClientLimits
from app.core.config import Settings
from app.inference.dataplane import DataPlane
from app.models.service import ModelService


# async: FastAPI runs a plain `def` dependency in a worker thread, a hop per request for an attribute read.
async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_service(request: Request) -> ModelService:
    return request.app.state.service


SettingsDep = Annotated[Settings, Depends(get_settings)]
ServiceDep = Annotated[ModelService, Depends(get_service)]


def client_slot(
    request: Request, kind: str, *, when: bool = True, identify: Callable[[Request], str] = client_identity
) -> AbstractAsyncContextManager[None]:
    """One of the caller's `kind` slots (app/core/client_limits.py) for an `async with` block (429 when it has
    none left); nothing at all when `when` is false, so a route that is costly only sometimes pays only then."""
    if not when:
        return nullcontext()
    limits: ClientLimits = request.app.state.client_limits
    return limits.hold(kind, identify(request))


def per_client(kind: str, identify: Callable[[Request], str] = client_identity) -> Callable[..., AsyncIterator[None]]:
    """A dependency holding one of the caller's `kind` slots until the answer is sent.

    A dependency with yield exits after the response, a stream's last event included, so a streamed poem
    holds its slot while it streams, and a client that leaves gives it back.
    """

    async def hold_slot(request: Request) -> AsyncIterator[None]:
        async with client_slot(request, kind, identify=identify):
            yield

    hold_slot.__name__ = f"per_client_{kind}"
    return hold_slot


async def get_plane(request: Request) -> DataPlane:
    return request.app.state.plane


PlaneDep = Annotated[DataPlane, Depends(get_plane)]
