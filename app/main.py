"""Builds the FastAPI application: settings, middleware, error handlers, routers, and the lifespan.

A factory (`uvicorn --factory app.main:create_app`, which `python -m app` and `dlserve serve` use):
importing this module builds nothing, starts no thread and reads no setting.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from app import __version__
from app.api.body_limit import BodyLimitMiddleware
from app.api.errors import ErrorShapes, install_error_handlers
from app.api.generation_routes import generation_router
from app.api.grpc_v2.server import start_grpc, stop_grpc
from app.api.grpc_v2.servicer import InferenceServicer
from app.api.image_routes import image_router
from app.api.request_context import RequestContextMiddleware
from app.api.routes import any_model, docs, health, metrics, models, playground, v2, v2_repository
from app.api.security import require_api_key
from app.api.tabular_routes import tabular_router
from app.core.client_limits import ClientLimits
from app.core.config import Settings, get_settings
from app.core.logging_setup import configure_logging
from app.core.memory import settle_after_start_up
from app.core.metrics import Metrics
from app.inference.dataplane import DataPlane
from app.models.repository import Entry, scan
from app.models.service import ModelService
from app.schemas.common import error_responses
from app.schemas.model_meta import IMAGE, TABULAR, TEXT

DESCRIPTION = """Serving the models of MODEL_DIR — the course's four (handwritten digits, Fashion-MNIST clothing,
Kaggle house prices, Tang poems) and any model of their tasks. Every client error is a 4xx with
`{"detail", "code"}`."""
ROUTERS = {IMAGE: image_router, TABULAR: tabular_router, TEXT: generation_router}  # a model's REST door, by task
# The groups Swagger UI and ReDoc show after the models' own (routes themselves are matched probes first).
TAGS = [
    {"name": any_model.TAG, "description": "Any model of the repository by its name, one loaded after start-up too"},
    {"name": "health", "description": "Liveness and readiness probes"},
    {"name": "models", "description": "What is loaded, with its quality and checksum"},
    {"name": "operations", "description": "Prometheus metrics"},
    {
        "name": "v2 (Open Inference Protocol)",
        "description": "KServe v2 / Triton HTTP: health, metadata, inference, "
        'generate, model repository (load/unload). Errors are {"error": ...}',
    },
]
# What any prediction or generation can answer besides 200, documented with the one error shape.
PREDICTION_ERRORS = error_responses(400, 401, 408, 413, 415, 422, 429, 503)
logger = logging.getLogger("dlserve")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Models load here, never at import: importing the app (in tests, in tools) stays cheap.
    settings: Settings = app.state.settings
    warn_about_settings(settings)
    service = await ModelService.start(settings, app.state.metrics)
    app.state.service = service
    app.state.plane = plane = DataPlane(service, app.state.client_limits)
    grpc_server = await start_grpc(InferenceServicer(
        settings=settings, service=service, plane=plane, metrics=app.state.metrics, limits=app.state.client_limits,
        server_name=app.title, server_version=app.version,
    ))  # fmt: skip
    settle_after_start_up()  # freeze start-up objects out of the collector's way; give freed memory back
    try:
        yield
    finally:
        # Uvicorn calls this after in-flight requests finished (or GRACEFUL_TIMEOUT_S passed); gRPC calls get
        # the same grace; the batchers then drain whatever is still queued rather than dropping it.
        await stop_grpc(grpc_server, settings.graceful_timeout_s)
        await service.stop()
        app.state.metrics.process_exiting()
        logger.info("shut down cleanly")


def warn_about_settings(settings: Settings) -> None:
    """Start-up warnings for settings that are allowed but worth a second look."""
    if settings.model_control == "explicit":
        logger.warning("model control is on (MODEL_CONTROL=explicit): holders of ADMIN_API_KEY can load and "
                       "unload models")  # fmt: skip
        if settings.api_key is not None and settings.api_key == settings.admin_api_key:
            logger.warning("ADMIN_API_KEY is the same as API_KEY: every client with the API key can also load "
                           "and unload models")  # fmt: skip


def client_limits(settings: Settings, metrics: Metrics) -> ClientLimits:
    limits = {"explain": settings.per_client_explain, "csv": settings.per_client_csv,
              "poem": settings.per_client_poems, "reload": settings.per_client_reloads}  # fmt: skip
    return ClientLimits(limits, retry_after_s=settings.retry_after_s, refusal_delay_s=settings.refusal_delay_ms / 1000,
                        on_refusal=metrics.observe_client_limited)  # fmt: skip


def model_routers(entries: dict[str, Entry]) -> tuple[list[APIRouter], list[dict[str, str]]]:
    """Each model's own REST routes (its schema and example in Swagger UI) and its Swagger group, read from
    the repository at start-up: a folder that cannot be read gets none (its name still answers, 503)."""
    routers, tags = [], []
    for entry in entries.values():
        if entry.problem is None and entry.task in ROUTERS:
            routers.append(ROUTERS[entry.task](entry))
            description = entry.meta.get("description")
            tags.append({"name": entry.endpoint, "description": description if isinstance(description, str) else
                         f"The {entry.name} model ({entry.task})"})  # fmt: skip
    return routers, tags


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.log_format)
    routers, model_tags = model_routers(scan(settings.model_dir))
    # docs_url/redoc_url off: the docs router serves both pages with local assets instead of a CDN's.
    app = FastAPI(title="dlserve", description=DESCRIPTION, version=__version__, lifespan=lifespan,
                  openapi_tags=model_tags + TAGS, docs_url=None, redoc_url=None)  # fmt: skip
    app.state.settings = settings
    app.state.metrics = Metrics()
    app.state.client_limits = client_limits(settings, app.state.metrics)
    # Added last = outermost: the request id and metrics see every answer, 413s and CORS included.
    shapes = ErrorShapes(protocol_prefixes=(v2.PREFIX,))  # the protocol's door answers in the protocol's shape
    app.add_middleware(BodyLimitMiddleware, shapes=shapes, max_body_bytes=settings.max_body_bytes,
                       body_timeout_s=settings.body_timeout_s)  # fmt: skip
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["*"],
                           allow_headers=["*"], expose_headers=["X-Request-ID"])  # fmt: skip
    app.add_middleware(RequestContextMiddleware, metrics=app.state.metrics, shapes=shapes)
    if settings.trusted_proxies:
        # Outermost: every layer, the per-client limits included, sees the proxy's client as the peer.
        # Only from these addresses: anyone else could name any client in X-Forwarded-For.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    install_error_handlers(app, shapes)
    # Routes are matched in order: the probes that orchestrators call many times a second come first.
    for module in (health, models, metrics):
        app.include_router(module.router)
    protected = [Depends(require_api_key)]
    for router in [*routers, any_model.router]:  # a model's own routes first: `{name}` matches any name
        app.include_router(router, dependencies=protected, responses=PREDICTION_ERRORS)
    # The v2 protocol: health and metadata open, inference and the repository behind the key (per route).
    app.include_router(v2.router)
    app.include_router(v2_repository.router)
    app.include_router(docs.router)
    app.include_router(playground.router)
    app.mount(docs.STATIC_URL, StaticFiles(directory=docs.STATIC_DIR), name="static")
    return app
