"""What JSON Schema cannot say about the API, told to the fuzzer's generator.

Two rules of the contract span more than one value, so the OpenAPI document states them
in prose only (and tests/app/test_contract.py proves the 422 for each):
- `ends_at` must be after `starts_at` (POST /v1/events body, GET /v1/events/search query);
- `cursor` is opaque: only a `next_cursor` the API returned is valid.

Schemathesis would take a generated value that breaks them for valid data and flag the
422 as "schema-valid request rejected". This hook repairs such values in the generated
case (order the window; drop an invented cursor from a positive case) and changes
nothing else, so a negative case stays negative.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import TypeAdapter, ValidationError

from app.models import DateTimeIn

_DATETIME = TypeAdapter(DateTimeIn)


def _parse(value: object) -> datetime | None:
    try:
        return _DATETIME.validate_python(value)
    except ValidationError:
        return None


def order_window(values: object) -> None:
    """Make `ends_at` later than `starts_at` in place, when both are valid date-times."""
    if not isinstance(values, dict):
        return
    starts, ends = _parse(values.get("starts_at")), _parse(values.get("ends_at"))
    if starts is None or ends is None or ends > starts:
        return
    if ends < starts:
        values["starts_at"], values["ends_at"] = values["ends_at"], values["starts_at"]
        return
    # Equal: move the end one second later, or the start one second earlier at the top of the range.
    later = (ends + timedelta(seconds=1)).isoformat()
    if _parse(later) is not None:
        values["ends_at"] = later
    else:
        values["starts_at"] = (starts - timedelta(seconds=1)).isoformat()


def map_case(_context, case):
    path = case.operation.path
    if case.method.upper() == "POST" and path == "/v1/events":
        order_window(case.body)
    elif path == "/v1/events/search":
        order_window(case.query)
        meta = case.meta
        if isinstance(case.query, dict) and meta is not None and meta.generation.mode.is_positive:
            case.query.pop("cursor", None)
    return case
