"""`python -m app`: run the API with uvicorn, configured from the same settings as the app.

On SIGTERM uvicorn stops accepting connections, lets in-flight requests finish for up to
GRACEFUL_TIMEOUT_S, then runs the lifespan's shutdown (the micro-batchers drain) and exits 0.
"""

from __future__ import annotations

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


def main() -> None:
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
        "app.main:app",
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        timeout_graceful_shutdown=settings.graceful_timeout_s,
        log_config=None,  # our own logging setup (JSON lines or text) applies
        access_log=False,  # one request line comes from our middleware, with the request id
        # X-Forwarded-For is honoured by the app itself, and only from TRUSTED_PROXIES (app/main.py).
        proxy_headers=False,
    )


if __name__ == "__main__":
    main()
