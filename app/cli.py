"""`dlserve serve` (and `python -m app`): run the API with uvicorn, configured from the same settings as the app.

`--host`, `--port` and `--workers` override HOST, PORT and WORKERS for this run (as `fastapi run` and
`bentoml serve` take them); every other setting comes from the environment or `.env`.

On SIGTERM uvicorn stops accepting connections, lets in-flight requests finish for up to
GRACEFUL_TIMEOUT_S, then runs the lifespan's shutdown (the micro-batchers drain) and exits 0.
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

import uvicorn

from app.core.config import get_settings
from app.core.memory import limit_malloc_arenas
from app.core.metrics import MULTIPROCESS_ENV


def share_metrics_between_workers() -> None:
    """Give the workers one folder for their metric files, empty at start (stale files would add old counts).

    Set before uvicorn spawns the workers, which inherit it; an operator's own PROMETHEUS_MULTIPROC_DIR
    (on a volume, say) is used and emptied instead of a new temporary folder.
    """
    folder = os.environ.get(MULTIPROCESS_ENV)
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        for stale in Path(folder).glob("*.db"):
            stale.unlink()
    else:
        folder = tempfile.mkdtemp(prefix="dlserve-metrics-")
        os.environ[MULTIPROCESS_ENV] = folder
        atexit.register(shutil.rmtree, folder, ignore_errors=True)


def _exit_cleanly(signum: int, frame: object) -> None:
    sys.exit(0)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="dlserve", description="Serve the course's four models over HTTP.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the API (settings: environment variables or .env)")
    serve.add_argument("--host", help="interface to listen on (HOST; default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (PORT; default 8000)")
    serve.add_argument("--workers", type=int, help="worker processes (WORKERS; default 1)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    # Through the environment, not arguments: each worker process builds its app from it (app/main.py).
    for name in ("host", "port", "workers"):
        if getattr(args, name) is not None:
            os.environ[name.upper()] = str(getattr(args, name))
    get_settings.cache_clear()
    serve()


def serve() -> None:
    limit_malloc_arenas()  # before uvicorn, torch or anything else starts a thread
    settings = get_settings()
    if settings.workers > 1:
        share_metrics_between_workers()
    # Uvicorn shuts down gracefully on SIGTERM/SIGINT, then re-raises the signal with the handler
    # that was installed before it started. Making that handler a clean exit gives status 0 (what
    # orchestrators expect of a graceful stop) instead of "killed by signal 15".
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _exit_cleanly)
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        timeout_graceful_shutdown=settings.graceful_timeout_s,
        log_config=None,  # our own logging setup (JSON lines or text) applies
        access_log=False,  # one request line comes from our middleware, with the request id
        # X-Forwarded-For is honoured by the app itself, and only from TRUSTED_PROXIES (app/main.py).
        proxy_headers=False,
    )
