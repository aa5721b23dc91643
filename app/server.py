"""`python -m app serve`: the production server with EVENTS_WORKERS processes.

uvicorn (uvloop + httptools) by default; granian is available through
EVENTS_SERVER=granian (see docs/decisions.md for the measurement behind the default).
"""

from __future__ import annotations

import os
from pathlib import Path

from app.settings import Settings


def prepare_metrics_dir(settings: Settings) -> None:
    """Workers share PROMETHEUS_MULTIPROC_DIR; files left by an earlier run would be counted again."""
    if not settings.prometheus_multiproc_dir:
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        return
    d = Path(settings.prometheus_multiproc_dir)
    d.mkdir(parents=True, exist_ok=True)
    for f in d.glob("*.db"):
        f.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(d)


def serve(settings: Settings) -> None:
    prepare_metrics_dir(settings)
    if settings.server == "granian":
        from granian import Granian
        from granian.constants import Interfaces, Loops

        Granian("app.main:app_factory", factory=True, address=settings.host, port=settings.port,
                interface=Interfaces.ASGI, workers=settings.workers, loop=Loops.uvloop,
                log_access=False, backlog=2048).serve()
        return
    import uvicorn

    uvicorn.run("app.main:app_factory", factory=True, host=settings.host, port=settings.port,
                workers=settings.workers, loop="uvloop", http="httptools", lifespan="on",
                access_log=False, proxy_headers=False, server_header=False, backlog=2048,
                timeout_graceful_shutdown=20, log_config=None)


