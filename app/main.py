"""The ASGI application: `create_app()` wires settings, pools, routes and error handling."""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app import __version__, errors, openapi
from app.cache import Cache, make_client
from app.db import Database
from app.deps import Services
from app.fastpath import FastPath
from app.invalidation import Subscriber
from app.logs import AccessLog, configure
from app.metrics import forget_dead_workers
from app.middleware import RequestContext
from app.ratelimit import RateLimiter, batch_for
from app.routes import events, probes
from app.settings import Settings, get_settings

log = logging.getLogger("app")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        forget_dead_workers()
        db = Database(settings)
        await db.open()
        redis = make_client(settings)
        cache = Cache(settings, redis)
        limiter = RateLimiter(cache, rate=settings.rate_limit_per_second, burst=settings.rate_limit_burst,
                              batch=batch_for(settings.rate_limit_per_second, settings.rate_limit_burst))
        subscriber = Subscriber(settings, cache.l1)
        subscriber.start()
        app.state.services = Services(settings=settings, db=db, cache=cache, limiter=limiter,
                                      subscriber=subscriber)
        log.info("started", extra={"version": __version__, "redis_mode": settings.redis_mode})
        flusher = asyncio.create_task(access_log.flush_periodically()) if access_log else None
        try:
            yield
        finally:
            if flusher and access_log:
                flusher.cancel()
                access_log.flush()
            await subscriber.stop()
            await db.close()
            await redis.aclose()

    app = FastAPI(title="loadline events", version=__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None, openapi_url="/openapi.json")
    errors.install(app)
    openapi.install(app, settings)
    app.include_router(probes.router)
    app.include_router(events.router)
    access_log = AccessLog() if settings.access_log else None
    # Inside RequestContext, so a cached read served there still gets its request id, metrics and log.
    app.add_middleware(FastPath, fastapi_app=app)
    app.add_middleware(RequestContext, max_body_bytes=settings.max_body_bytes, access_log=access_log)
    return app


def app_factory() -> FastAPI:
    """Entry for servers that import the app by name (each worker builds its own)."""
    settings = get_settings()
    configure(settings.log_level)
    return create_app(settings)
