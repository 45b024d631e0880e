"""Builds the FastAPI application: settings, routers, and the lifespan that will own the models."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app.api.routes import health


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Models are loaded here (never at import) once the serving layer lands.
    yield


app = FastAPI(
    title="dlserve",
    description="Serving the course's four models: digits, Fashion-MNIST, house prices, Tang poems.",
    version="0.1.0",
    lifespan=lifespan,
)
app.include_router(health.router)
