"""One error body everywhere: {"error": {"code", "message", "request_id"}}, documented per route."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.logs import request_id_var
from app.models import ErrorBody
from app.responses import JSONBody

_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
          405: "method_not_allowed", 413: "payload_too_large", 415: "unsupported_media_type",
          422: "validation_error", 429: "rate_limited", 500: "internal_error", 503: "unavailable"}


_WHEN = {
    400: "`bad_request`: the body is not UTF-8 JSON",
    401: "`unauthorized`: X-API-Key missing or not a valid key",
    404: "`not_found`: no such event",
    413: "`payload_too_large`: the body is larger than EVENTS_MAX_BODY_BYTES",
    422: "`validation_error`: bad input; the message names each field and the reason",
    429: "`rate_limited`: this client's token bucket is empty",
    500: "`internal_error`: a bug; quote the request id",
    503: "`database_unavailable`: PostgreSQL is unreachable",
}
RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before retrying", "required": True,
                               "schema": {"type": "integer", "minimum": 1}}}


def documented(*statuses: int) -> dict[int | str, dict]:
    """The `responses=` of a route that can answer these error statuses (500 is always possible)."""
    return {status: {"model": ErrorBody, "description": _WHEN[status],
                     **({"headers": RETRY_AFTER} if status in (429, 503) else {})}
            for status in sorted({*statuses, 500})}


class AppError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


def error_body(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message, "request_id": request_id_var.get()}}


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONBody:
    return JSONBody(error_body(code, message), status_code=status, headers=headers)


def _field(loc: tuple) -> str:
    # ("body", "starts_at") -> "starts_at"; ("query", "limit") -> "limit"
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def validation_message(exc: RequestValidationError) -> str:
    msgs = []
    for err in exc.errors():
        msg = err.get("msg", "invalid").removeprefix("Value error, ")
        msgs.append(f"{_field(tuple(err.get('loc', ())))}: {msg}")
    return "; ".join(msgs)


def install(app: FastAPI) -> None:
    """Handlers for the errors FastAPI raises; unexpected exceptions are answered by
    app.middleware.RequestContext, which still knows the request id."""
    @app.exception_handler(AppError)
    async def _app_error(_req: Request, exc: AppError):
        return error_response(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_req: Request, exc: StarletteHTTPException):
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return error_response(exc.status_code, _CODES.get(exc.status_code, "http_error"), message,
                              dict(exc.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_req: Request, exc: RequestValidationError):
        return error_response(422, "validation_error", validation_message(exc))
