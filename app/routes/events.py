"""POST /v1/events, GET /v1/events/{event_id}, GET /v1/events/search."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import orjson
from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.responses import Response

from app import events, search_pages
from app.deps import ApiKeyDep, RateLimited, ServicesDep, admit
from app.errors import AppError, documented
from app.models import MAX_SEARCH_LIMIT, Event, EventIn, SearchPage, SearchQuery
from app.responses import JSONBody
from app.settings import Settings

router = APIRouter(prefix="/v1/events")


def _json(body: bytes, status: int = 200, headers: dict | None = None) -> Response:
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def parse_search(request: Request, settings: Settings) -> tuple[SearchQuery, tuple[datetime, UUID] | None]:
    try:
        q = SearchQuery.model_validate(dict(request.query_params))
    except ValidationError as exc:
        # Same errors (and error body) as FastAPI's own query validation.
        raise RequestValidationError([{**e, "loc": ("query", *e["loc"])} for e in exc.errors()]) from None
    if q.limit > settings.search_max_limit:
        raise AppError(422, "validation_error", f"limit: at most {settings.search_max_limit}")
    return q, events.decode_cursor(q.cursor) if q.cursor else None


def search_parameters(max_limit: int) -> list[dict]:
    """The query parameters as SearchQuery declares them: the route parses its query itself (after
    the cache lookup), so FastAPI cannot infer them. `limit`'s maximum is the deployment's."""
    schema = SearchQuery.model_json_schema()
    required = set(schema.get("required", ()))
    params = []
    for name, prop in schema["properties"].items():
        prop = {k: v for k, v in prop.items() if k != "title"}
        description = prop.pop("description", "")
        if name == "limit":
            prop["maximum"] = min(prop["maximum"], max_limit)
        if "anyOf" in prop:  # `str | None`: absent, not null, on the wire
            prop = {**next(p for p in prop.pop("anyOf") if p.get("type") != "null"), **prop}
            prop.pop("default", None)
        params.append({"name": name, "in": "query", "required": name in required, "schema": prop,
                       "description": description})
    return params


_CREATED_HEADERS = {"Location": {"description": "/v1/events/{id} of the new event", "required": True,
                                 "schema": {"type": "string"}}}


@router.post("", status_code=201, response_model=Event, response_class=JSONBody, dependencies=[RateLimited],
             operation_id="create_event", description=EventIn.__doc__,
             responses={201: {"headers": _CREATED_HEADERS}, **documented(400, 401, 413, 422, 429, 503)})
async def create_event(event: EventIn, request: Request, svc: ServicesDep, _key: ApiKeyDep):
    async with svc.db.connection() as conn:
        created = await events.create_event(conn, **event.model_dump())
    # Only after the commit: a concurrent reader can no longer cache a page without this event.
    await svc.cache.invalidate_search(event.starts_at, request.state)
    return _json(orjson.dumps(created), 201, {"Location": f"/v1/events/{created['id']}"})


@router.get("/search", response_model=SearchPage, response_class=JSONBody, operation_id="search_events",
            openapi_extra={"parameters": search_parameters(MAX_SEARCH_LIMIT)},
            responses=documented(422, 429, 503))
async def search_events(request: Request, svc: ServicesDep):
    """Events starting in [starts_at, ends_at), keyset-paginated by (starts_at, id)."""
    db, cache = svc.db, svc.cache
    # L1 is keyed by the raw query string: a hit costs no parsing at all.
    l1_key = ("search", request.scope["query_string"])
    page = cache.l1_get(l1_key)
    if page is not None:
        await admit(request)
        return _json(page)
    since = cache.l1.version
    key = search_pages.page_key(request.query_params.multi_items())
    page, span, seq = cache.search_hit(await admit(request, search=key))
    if page is not None and span is not None:
        cache.l1.put_page(l1_key, page, span, since)
        return _json(page)
    q, after = parse_search(request, svc.settings)
    result = await db.read(events.search_events, starts_at=q.starts_at, ends_at=q.ends_at, limit=q.limit,
                           after=after)
    body = orjson.dumps(result)
    span = search_pages.span(q.starts_at, q.ends_at, after[0] if after else None, result)
    cache.l1.put_page(l1_key, body, span, since)
    if seq is not None:
        await cache.put_search(key, seq, span, body, request.state)
    return _json(body)


@router.get("/{event_id}", response_model=Event, response_class=JSONBody, operation_id="get_event",
            responses=documented(404, 422, 429, 503))
async def get_event(event_id: UUID, request: Request, svc: ServicesDep):
    db, cache = svc.db, svc.cache
    l1_key = ("event", request.scope["path"])  # as app/fastpath.py looks it up
    cached = cache.l1_get(l1_key)
    if cached is not None:
        await admit(request)
        return _json(cached)
    cached = cache.event_hit(await admit(request, (cache.event_key(str(event_id)),)))
    if cached is not None:
        cache.l1.put_event(l1_key, cached)
        return _json(cached)
    found = await db.read(events.get_event, event_id=event_id)
    if found is None:
        raise AppError(404, "not_found", f"event_id: no event {event_id}")
    body = orjson.dumps(found)
    cache.l1.put_event(l1_key, body)
    await cache.put_event(str(event_id), body, request.state)
    return _json(body)
