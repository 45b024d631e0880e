"""Liveness: the process is up and answering."""

from fastapi import APIRouter

router = APIRouter(prefix="/health", tags=["health"])


@router.get("/live")
def read_liveness() -> dict[str, str]:
    """The process is up (it says nothing about the models)."""
    return {"status": "alive"}
