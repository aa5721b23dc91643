"""POST /v1/events, GET /v1/events/{event_id}, GET /v1/events/search."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import orjson
from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from starlette.responses import Response

from app import events
from app.cache import SEARCH_GEN_KEY, search_key
from app.deps import ApiKeyDep, RateLimited, ServicesDep, admit
from app.errors import AppError
from app.models import Event, EventIn, SearchPage
from app.responses import JSONBody
from app.settings import Settings

router = APIRouter(prefix="/v1/events")


def _json(body: bytes, status: int = 200, headers: dict | None = None) -> Response:
    return Response(body, status_code=status, media_type="application/json", headers=headers)


class SearchQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    starts_at: AwareDatetime = Field(description="window start (inclusive), ISO 8601 with a zone")
    ends_at: AwareDatetime = Field(description="window end (exclusive), ISO 8601 with a zone")
    limit: Annotated[int, Field(ge=1, le=1000)] = 20
    cursor: Annotated[str | None, Field(max_length=200)] = None


def parse_search(request: Request, settings: Settings) -> tuple[SearchQuery, tuple[datetime, UUID] | None]:
    try:
        q = SearchQuery.model_validate(dict(request.query_params))
    except ValidationError as exc:
        # Same errors (and error body) as FastAPI's own query validation.
        raise RequestValidationError([{**e, "loc": ("query", *e["loc"])} for e in exc.errors()]) from None
    if q.ends_at <= q.starts_at:
        raise AppError(422, "validation_error", "ends_at: must be after starts_at")
    if q.limit > settings.search_max_limit:
        raise AppError(422, "validation_error", f"limit: at most {settings.search_max_limit}")
    return q, events.decode_cursor(q.cursor) if q.cursor else None


_SEARCH_DOC = {"parameters": [
    {"name": name, "in": "query", "required": required, "schema": schema, "description": desc}
    for name, required, schema, desc in (
        ("starts_at", True, {"type": "string", "format": "date-time"}, "window start (inclusive)"),
        ("ends_at", True, {"type": "string", "format": "date-time"}, "window end (exclusive)"),
        ("limit", False, {"type": "integer", "minimum": 1, "default": 20}, "page size"),
        ("cursor", False, {"type": "string"}, "next_cursor of the previous page"))]}


@router.post("", status_code=201, response_model=Event, response_class=JSONBody, dependencies=[RateLimited])
async def create_event(event: EventIn, request: Request, svc: ServicesDep, _key: ApiKeyDep):
    async with svc.db.connection() as conn:
        created = await events.create_event(conn, **event.model_dump())
    # Only after the commit: a concurrent reader can no longer cache a page without this event.
    await svc.cache.invalidate_search(request.state)
    return _json(orjson.dumps(created), 201, {"Location": f"/v1/events/{created['id']}"})


@router.get("/search", response_model=SearchPage, response_class=JSONBody, openapi_extra=_SEARCH_DOC)
async def search_events(request: Request, svc: ServicesDep):
    """Events starting in [starts_at, ends_at), keyset-paginated by (starts_at, id)."""
    db, cache = svc.db, svc.cache
    key = search_key(request.query_params.multi_items())
    page, gen = cache.search_hit(await admit(request, (SEARCH_GEN_KEY, key)))
    if page is not None:
        return _json(page)
    q, after = parse_search(request, svc.settings)
    result = await db.read(events.search_events, starts_at=q.starts_at, ends_at=q.ends_at, limit=q.limit,
                           after=after)
    body = orjson.dumps(result)
    if gen is not None:
        await cache.put_search(key, gen, body, request.state)
    return _json(body)


@router.get("/{event_id}", response_model=Event, response_class=JSONBody)
async def get_event(event_id: UUID, request: Request, svc: ServicesDep):
    db, cache = svc.db, svc.cache
    cached = cache.event_hit(await admit(request, (cache.event_key(str(event_id)),)))
    if cached is not None:
        return _json(cached)
    found = await db.read(events.get_event, event_id=event_id)
    if found is None:
        raise AppError(404, "not_found", f"event_id: no event {event_id}")
    body = orjson.dumps(found)
    await cache.put_event(str(event_id), body, request.state)
    return _json(body)
