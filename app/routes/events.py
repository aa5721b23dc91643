"""POST /v1/events, GET /v1/events/{event_id}, GET /v1/events/search."""

from __future__ import annotations

from datetime import timezone
from typing import Annotated
from uuid import UUID

import orjson
from fastapi import APIRouter, Query, Request
from pydantic import AwareDatetime
from starlette.responses import Response

from app import events
from app.deps import ApiKeyDep, CacheDep, DbDep, RateLimited, SettingsDep
from app.errors import AppError
from app.models import Event, EventIn, SearchPage
from app.responses import JSONBody

router = APIRouter(prefix="/v1/events", dependencies=[RateLimited])


def _json(body: bytes, status: int = 200, headers: dict | None = None) -> Response:
    return Response(body, status_code=status, media_type="application/json", headers=headers)


@router.post("", status_code=201, response_model=Event, response_class=JSONBody)
async def create_event(event: EventIn, request: Request, db: DbDep, cache: CacheDep, _key: ApiKeyDep):
    async with db.connection() as conn:
        created = await events.create_event(conn, **event.model_dump())
    # Only after the commit: a concurrent reader can no longer cache a page without this event.
    await cache.invalidate_search(request.state)
    return _json(orjson.dumps(created), 201, {"Location": f"/v1/events/{created['id']}"})


@router.get("/search", response_model=SearchPage, response_class=JSONBody)
async def search_events(
    request: Request, db: DbDep, cache: CacheDep, settings: SettingsDep,
    starts_at: Annotated[AwareDatetime, Query(description="window start (inclusive), ISO 8601 with zone")],
    ends_at: Annotated[AwareDatetime, Query(description="window end (exclusive), ISO 8601 with zone")],
    limit: Annotated[int, Query(ge=1, le=1000)] = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
):
    if ends_at <= starts_at:
        raise AppError(422, "validation_error", "ends_at: must be after starts_at")
    if limit > settings.search_max_limit:
        raise AppError(422, "validation_error", f"limit: at most {settings.search_max_limit}")
    after = events.decode_cursor(cursor) if cursor else None
    params = (starts_at.astimezone(timezone.utc).isoformat(), ends_at.astimezone(timezone.utc).isoformat(),
              limit, cursor)
    cached, gen = await cache.get_search(params, request.state)
    if cached is not None:
        return _json(cached)
    page = await db.read(events.search_events, starts_at=starts_at, ends_at=ends_at, limit=limit, after=after)
    body = orjson.dumps(page)
    if gen is not None:
        await cache.put_search(params, gen, body, request.state)
    return _json(body)


@router.get("/{event_id}", response_model=Event, response_class=JSONBody)
async def get_event(event_id: UUID, request: Request, db: DbDep, cache: CacheDep):
    cached = await cache.get_event(str(event_id), request.state)
    if cached is not None:
        return _json(cached)
    found = await db.read(events.get_event, event_id=event_id)
    if found is None:
        raise AppError(404, "not_found", f"event_id: no event {event_id}")
    body = orjson.dumps(found)
    await cache.put_event(str(event_id), body, request.state)
    return _json(body)
