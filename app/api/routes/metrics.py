"""GET /metrics — Prometheus exposition: the app's own registry, or all workers' values when WORKERS > 1."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

router = APIRouter(tags=["operations"])


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
def read_metrics(request: Request) -> Response:
    """Requests, latency, inference time, batch sizes, queue depth, loaded models and device, for Prometheus."""
    body, media_type = request.app.state.metrics.exposition()
    return Response(body, media_type=media_type)
