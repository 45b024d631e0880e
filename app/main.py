"""Builds the FastAPI application: settings, middleware, error handlers, routers, and the lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app.api.routes import digit, fashion, health, house, models, poem
from app.core.body_limit import BodyLimitMiddleware
from app.core.config import Settings, get_settings
from app.core.errors import install_error_handlers
from app.models.service import ModelService

DESCRIPTION = """Serving the four models of the course: handwritten digits (MNIST), Fashion-MNIST clothing,
Kaggle house prices, and Tang poems. Every client error is a 4xx with `{"detail", "code"}`."""


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Models load here, never at import: importing the app (in tests, in tools) stays cheap.
    settings: Settings = app.state.settings
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app.state.service = await ModelService.start(settings)
    try:
        yield
    finally:
        await app.state.service.stop()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(title="dlserve", description=DESCRIPTION, version="0.2.0", lifespan=lifespan)
    app.state.settings = settings
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    install_error_handlers(app)
    for module in (digit, fashion, house, poem, health, models):
        app.include_router(module.router)
    return app


app = create_app()
