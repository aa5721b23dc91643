"""Liveness, readiness, metrics and the constant endpoint the benchmark compares against."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from app import metrics
from app.deps import ServicesDep
from app.errors import RETRY_AFTER, documented
from app.models import Readiness, Status
from app.responses import JSONBody

router = APIRouter()
_PING = b'{"status":"ok"}'


@router.get("/healthz", operation_id="healthz", response_model=Status, response_class=JSONBody, responses=documented())
async def healthz():
    """The process runs its event loop; dependencies are /readyz's business."""
    return Response(_PING, media_type="application/json")


@router.get("/readyz", operation_id="readyz", response_model=Readiness, response_class=JSONBody, responses={
    503: {"model": Readiness, "description": "PostgreSQL does not answer", "headers": RETRY_AFTER},
    **documented()})
async def readyz(svc: ServicesDep):
    """Ready while PostgreSQL answers. Redis down only degrades (reads fall back to the database):
    Kubernetes must not restart pods because the cache is gone."""
    db_problem, redis_problem = await svc.db.ping(), await svc.cache.ping()
    checks = {"postgres": db_problem or "ok", "redis": "degraded" if redis_problem else "ok"}
    body = {"status": "degraded" if redis_problem else "ok", "checks": checks,
            "redis_breaker": svc.cache.breaker.name}
    if redis_problem:
        body["detail"] = {"redis": redis_problem}
    if db_problem:
        body["status"] = "unavailable"
        return JSONBody(body, status_code=503, headers={"Retry-After": str(svc.settings.retry_after_seconds)})
    return JSONBody(body)


# response_class=Response: a media type on the class would also be claimed for the JSON error answers.
@router.get("/metrics", operation_id="metrics", response_class=Response, responses={
    200: {"description": "Prometheus text exposition format",
          "content": {"text/plain": {"schema": {"type": "string"}}}}, **documented()})
async def metrics_endpoint(_request: Request):
    body, content_type = metrics.render()
    return Response(body, media_type=content_type)


@router.get("/v1/ping", operation_id="ping", response_model=Status, response_class=JSONBody, responses=documented())
async def ping():
    """Constant JSON, no dependency: the benchmark's baseline for framework + server cost."""
    return Response(_PING, media_type="application/json")
