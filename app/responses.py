"""orjson responses: cached bodies are served as stored bytes, everything else serialized once."""

from __future__ import annotations

import orjson
from starlette.responses import Response


class JSONBody(Response):
    media_type = "application/json"

    def render(self, content: object) -> bytes:
        if isinstance(content, bytes):
            return content
        return orjson.dumps(content)
