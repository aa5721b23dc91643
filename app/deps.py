"""Dependencies routes declare as Annotated aliases; the objects live on app.state (set in the lifespan)."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, Request

from app.cache import Cache
from app.db import Database
from app.errors import AppError
from app.ratelimit import RateLimiter, retry_after
from app.settings import Settings


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_db(request: Request) -> Database:
    return request.app.state.db


def get_cache(request: Request) -> Cache:
    return request.app.state.cache


def valid_key(settings: Settings, key: str | None) -> bool:
    # Constant-time comparison against every key: no timing hint about which prefix matched.
    return bool(key) and any(hmac.compare_digest(key.encode(), k.encode()) for k in settings.api_keys)


async def require_api_key(request: Request,
                          x_api_key: Annotated[str | None, Header(include_in_schema=False)] = None) -> str:
    if not valid_key(request.app.state.settings, x_api_key):
        raise AppError(401, "unauthorized", "X-API-Key: missing or not a valid key")
    return x_api_key


async def rate_limit(request: Request) -> None:
    limiter: RateLimiter = request.app.state.limiter
    key = request.headers.get("x-api-key")
    client = f"key:{key}" if valid_key(request.app.state.settings, key) else \
        f"addr:{request.client.host if request.client else 'unknown'}"
    wait = await limiter.check(client, request.state)
    if wait is not None:
        raise AppError(429, "rate_limited", f"rate limit exceeded for this client; retry in {wait:.2f} s",
                       {"Retry-After": retry_after(wait)})


SettingsDep = Annotated[Settings, Depends(get_settings)]
DbDep = Annotated[Database, Depends(get_db)]
CacheDep = Annotated[Cache, Depends(get_cache)]
ApiKeyDep = Annotated[str, Depends(require_api_key)]
RateLimited = Depends(rate_limit)
