"""The outermost layer of every request: request id, body size limit, metrics, access log.

Pure ASGI (not BaseHTTPMiddleware) so it adds no task or stream copy per request,
and it sees the final status even of errors raised below it.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

import orjson

from app.errors import error_body
from app.logs import AccessLog, request_id_var
from app.metrics import REQUEST_DURATION

log = logging.getLogger("app.errors")
REQUEST_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"
_VALID_ID = re.compile(REQUEST_ID_PATTERN)
UNMATCHED = "<unmatched>"


class _BodyTooLarge(Exception):
    pass


def _routes(routes):
    for route in routes:
        yield route
        # An included router (FastAPI) keeps its routes, prefix applied, on the original router.
        yield from _routes(getattr(getattr(route, "original_router", None), "routes", ()))


def _template(scope) -> str:
    """The route template for labels and logs; UNMATCHED only when no route has this path."""
    route = scope.get("route")
    if route is None:
        # Refused before routing (a 413 on its Content-Length): name the route it was sent to.
        app_routes = getattr(getattr(scope.get("app"), "router", None), "routes", ())
        route = next((r for r in _routes(app_routes)
                      if getattr(r, "path_regex", None) and r.path_regex.match(scope["path"])), None)
    return getattr(route, "path", None) or UNMATCHED


class RequestContext:
    def __init__(self, app, *, max_body_bytes: int, access_log: AccessLog | None):
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.access_log = access_log
        # labels() takes a lock and builds a key on every call; a child per label set is bound once.
        self.durations: dict[tuple[str, str, int], Any] = {}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        rid = None
        length = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                candidate = value.decode("latin-1")
                rid = candidate if _VALID_ID.match(candidate) else None
            elif name == b"content-length":
                length = int(value) if value.isdigit() else None
        rid = rid or uuid.uuid4().hex
        token = request_id_var.set(rid)
        rid_header = (b"x-request-id", rid.encode())
        status = 500
        started = False

        async def send_wrapper(message):
            nonlocal status, started
            if too_large:
                # The framework turned our refusal into its own error; answer 413 instead, once.
                if not started:
                    started = True
                    status = 413
                    await self._too_large(send, rid_header)
                return
            if message["type"] == "http.response.start":
                status = message["status"]
                started = True
                message["headers"] = [*message.get("headers", []), rid_header]
            await send(message)

        received = 0
        too_large = False

        async def receive_wrapper():
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    too_large = True
                    raise _BodyTooLarge
            return message

        try:
            if length is not None and length > self.max_body_bytes:
                status = 413
                await self._too_large(send, rid_header)
            else:
                try:
                    await self.app(scope, receive_wrapper, send_wrapper)
                except _BodyTooLarge:
                    if not started:
                        status = 413
                        await self._too_large(send, rid_header)
                except Exception:
                    # Answered here, inside the request's context, so the 500 carries its request id.
                    if started:
                        raise
                    log.exception("unhandled error")
                    status = 500
                    await self._error(send, rid_header, 500, "internal_error", "internal error; quote the request id")
        finally:
            elapsed = time.perf_counter() - start
            template = _template(scope)
            labels = (template, scope["method"], status)
            child = self.durations.get(labels)
            if child is None:
                child = self.durations[labels] = REQUEST_DURATION.labels(template, scope["method"], str(status))
            child.observe(elapsed)
            if self.access_log is not None:
                self.access_log.write({
                    "level": "info", "logger": "app.access", "msg": "request", "request_id": rid,
                    "method": scope["method"], "path": scope["path"], "route": template,
                    "status": status, "duration_ms": round(elapsed * 1000, 2)})
            request_id_var.reset(token)

    async def _too_large(self, send, rid_header):
        await self._error(send, rid_header, 413, "payload_too_large",
                          f"body: larger than the {self.max_body_bytes}-byte limit")

    async def _error(self, send, rid_header, status: int, code: str, message: str):
        body = orjson.dumps(error_body(code, message))
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode()), rid_header]})
        await send({"type": "http.response.body", "body": body})
