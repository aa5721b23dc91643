"""Logs are JSON objects carrying the request id of the request that wrote them."""

from __future__ import annotations

import io
import json
import logging

from app.logs import AccessLog, JsonFormatter, request_id_var


def test_a_log_line_inside_a_request_has_its_id():
    record = logging.LogRecord("app.cache", logging.WARNING, __file__, 1, "redis unavailable", None, None)
    record.error = "ConnectionError: refused"
    token = request_id_var.set("req-42")
    try:
        line = JsonFormatter().format(record)
    finally:
        request_id_var.reset(token)
    entry = json.loads(line)
    assert entry["request_id"] == "req-42" and entry["level"] == "warning"
    assert entry["msg"] == "redis unavailable" and entry["error"] == "ConnectionError: refused"


def test_access_lines_are_json_and_reach_the_stream_on_flush():
    out = io.BytesIO()
    log = AccessLog(out)
    log.write({"msg": "request", "request_id": "a"})
    log.write({"msg": "request", "request_id": "b"})
    log.flush()
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    assert [x["request_id"] for x in lines] == ["a", "b"] and all("ts" in x for x in lines)
