"""Dependencies routes declare as Annotated aliases; the objects live on app.state (set in the lifespan).

All are `async def`: FastAPI runs a plain `def` dependency in a thread pool, a thread hop
per dependency per request (`python -m bench.framework` measures it). Routes take one
`ServicesDep` (settings, pool, cache, limiter) rather than one dependency per object.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader

from app.cache import Cache
from app.db import Database
from app.errors import AppError
from app.invalidation import Subscriber
from app.ratelimit import RateLimiter, retry_after
from app.settings import Settings


@dataclass(frozen=True)
class Services:
    settings: Settings
    db: Database
    cache: Cache
    limiter: RateLimiter
    subscriber: Subscriber


async def get_services(request: Request) -> Services:
    return request.app.state.services


def valid_key(settings: Settings, key: str | None) -> bool:
    # Constant-time comparison against every key: no timing hint about which prefix matched.
    if not key:
        return False
    return any(hmac.compare_digest(key.encode(), k.encode()) for k in settings.api_keys)


# auto_error=False: a missing key gets the same 401 and error body as a wrong one.
API_KEY_HEADER = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="ApiKey")


async def require_api_key(request: Request,
                          x_api_key: Annotated[str | None, Security(API_KEY_HEADER)] = None) -> str:
    if x_api_key is None or not valid_key(request.app.state.services.settings, x_api_key):
        raise AppError(401, "unauthorized", "X-API-Key: missing or not a valid key")
    return x_api_key


def client_id_of(settings: Settings, key: str | None, host: str | None) -> str:
    """The rate limit's bucket: the API key when valid, else the peer address."""
    if valid_key(settings, key):
        return f"key:{key}"
    return f"addr:{host or 'unknown'}"


def client_id(request: Request) -> str:
    return client_id_of(request.app.state.services.settings, request.headers.get("x-api-key"),
                        request.client.host if request.client else None)


async def admit(request: Request, reads: tuple[str, ...] = (), search: str | None = None) -> list | None:
    """Take a token (429 when none is left) and read `reads` (or check a search page) from Redis
    in the same round trip."""
    limiter = request.app.state.services.limiter
    wait, values = await limiter.check(client_id(request), request.state, reads, search)
    if wait is not None:
        raise AppError(429, "rate_limited", f"rate limit exceeded for this client; retry in {wait:.2f} s",
                       {"Retry-After": retry_after(wait)})
    return values


async def rate_limit(request: Request) -> None:
    await admit(request)


ServicesDep = Annotated[Services, Depends(get_services)]
ApiKeyDep = Annotated[str, Depends(require_api_key)]
RateLimited = Depends(rate_limit)
