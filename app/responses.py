"""orjson responses: cached bodies are served as stored bytes, everything else serialized once."""

from __future__ import annotations

import orjson
from starlette.responses import JSONResponse


class JSONBody(JSONResponse):
    """A JSONResponse, so FastAPI documents the route's response model; orjson renders it."""

    def render(self, content: object) -> bytes:
        if isinstance(content, bytes):
            return content
        return orjson.dumps(content)
