"""The published OpenAPI document: FastAPI's, plus what only the running deployment knows."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app.middleware import REQUEST_ID_PATTERN
from app.routes.events import search_parameters
from app.settings import Settings

REQUEST_ID = {"X-Request-ID": {
    "description": "the client's own (1-128 characters of A-Za-z0-9._:-) or a generated one",
    "required": True, "schema": {"type": "string", "pattern": REQUEST_ID_PATTERN}}}


def install(app: FastAPI, settings: Settings) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(title=app.title, version=app.version, routes=app.routes,
                              description=app.description)
            doc["paths"]["/v1/events/search"]["get"]["parameters"] = search_parameters(settings.search_max_limit)
            for operation in (op for path in doc["paths"].values() for op in path.values()):
                for response in operation["responses"].values():
                    response["headers"] = {**response.get("headers", {}), **REQUEST_ID}
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend the schema
