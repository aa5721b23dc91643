"""Cached reads answered before the framework: an L1 hit with a locally held rate-limit token.

A GET of a search page or of an event by id whose encoded body is in this worker's L1 is
sent as those bytes, with the same status and headers the route would send, without
routing, dependency injection or parameter parsing. It still passes through RequestContext
(request id, duration histogram under the route's template, access log), takes a rate-limit
token (app/ratelimit.py: from the tokens this worker holds; none held means the route
handles the request, with its Redis round trip) and counts an L1 hit. Anything else
(a miss, a write, a path or method of another route) goes to the application unchanged.
"""

from __future__ import annotations

from typing import Any

from app.deps import client_id_of
from app.metrics import L1_HIT
from app.middleware import _routes

SEARCH_PATH = "/v1/events/search"
EVENT_PREFIX = "/v1/events/"
_HEADERS_START = b"application/json"


class FastPath:
    def __init__(self, app: Any, *, fastapi_app: Any):
        self.app = app
        self.fastapi_app = fastapi_app
        routes = {getattr(r, "path", None): r for r in _routes(fastapi_app.routes)}
        self.search_route = routes.get(SEARCH_PATH)
        self.event_route = routes.get(EVENT_PREFIX + "{event_id}")

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] == "GET":
            path = scope["path"]
            if path == SEARCH_PATH:
                key: tuple[str, Any] | None = ("search", scope["query_string"])
                route = self.search_route
            elif path.startswith(EVENT_PREFIX) and path.count("/") == 3:
                key, route = ("event", path), self.event_route
            else:
                key = None
            if key is not None:
                services = getattr(self.fastapi_app.state, "services", None)
                body = services.cache.l1.get(key) if services is not None else None
                if body is not None and services is not None and \
                        services.limiter.take_held(client_id(services.settings, scope)):
                    L1_HIT.inc()
                    scope["route"] = route
                    await send({"type": "http.response.start", "status": 200, "headers": [
                        (b"content-length", str(len(body)).encode()), (b"content-type", _HEADERS_START)]})
                    await send({"type": "http.response.body", "body": body})
                    return
        await self.app(scope, receive, send)


def client_id(settings, scope) -> str:
    """The rate limit's bucket, as app.deps.client_id names it: the API key when valid, else the peer."""
    key = None
    for name, value in scope["headers"]:
        if name == b"x-api-key":
            key = value.decode("latin-1")
            break
    client = scope.get("client")
    return client_id_of(settings, key, client[0] if client else None)
