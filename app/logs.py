"""JSON logs, one object a line, each carrying the request id of the request that wrote it."""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from contextvars import ContextVar
from datetime import UTC, datetime

import orjson

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
_STD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "color_message"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        rid = request_id_var.get()
        if rid:
            entry["request_id"] = rid
        entry.update({k: v for k, v in vars(record).items() if k not in _STD})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # The service writes its own access log (with the request id); the server's would duplicate it.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "granian", "granian.access"):
        lg = logging.getLogger(name)
        lg.handlers[:] = []
        lg.propagate = True
    logging.getLogger("uvicorn.access").disabled = True


class AccessLog:
    """The per-request access line, written without the logging machinery.

    Same JSON shape as the other logs, but built with one orjson call and written
    in batches: through `logging` with a flush per line it cost ~100 us a request,
    more than a whole cached search answer. Lines reach stdout within FLUSH_S.
    """

    FLUSH_S = 0.5
    MAX_BUFFER = 64 * 1024

    def __init__(self, stream=None):
        self.out = stream or sys.stdout.buffer
        self.buf = bytearray()
        self.last = time.monotonic()

    def write(self, entry: dict) -> None:
        entry["ts"] = datetime.now(UTC).isoformat(timespec="milliseconds")
        self.buf += orjson.dumps(entry, default=str)
        self.buf += b"\n"
        if len(self.buf) > self.MAX_BUFFER or time.monotonic() - self.last > self.FLUSH_S:
            self.flush()

    def flush(self) -> None:
        self.last = time.monotonic()
        if self.buf:
            self.out.write(self.buf)
            self.out.flush()
            self.buf.clear()

    async def flush_periodically(self) -> None:
        """An idle server must not sit on its last lines."""
        while True:
            await asyncio.sleep(self.FLUSH_S)
            self.flush()
