"""Request and response bodies: the one source of the API contract.

Each constraint is stated once, as a JSON Schema fragment that FastAPI publishes in
/openapi.json, and enforced by a validator built from that same fragment; the validator
only adds a message that names the field and the reason. One rule has no fragment: an
unpaired surrogate (`"\ud800"` in JSON) is not Unicode, so no JSON Schema string holds it.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)

MAX_TEXT = 200
MAX_CAPACITY = 1_000_000
MAX_SEARCH_LIMIT = 1000

# RFC 3339 date-time (section 5.6) narrowed to what PostgreSQL and its Python client read
# back as the same instant:
# - seconds 00-59 (no leap second 60: Python's datetime cannot hold it);
# - at most 6 fractional digits (PostgreSQL keeps microseconds; a 7th would be dropped);
# - no year 0000, and not the first or last day of 0001-9999: a zone offset moves those
#   outside the years a client can decode once PostgreSQL has turned them into UTC.
# [0-9], never \d: Python's \d also matches non-ASCII digits.
DATETIME_PATTERN = (
    r"^(?!0000-|0001-01-01|9999-12-31)"
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?"
    r"([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$")
_DATETIME = re.compile(DATETIME_PATTERN)
_FRACTION = re.compile(r"[Tt][0-9:]{8}\.[0-9]{7,}")
_LEAP_SECOND = re.compile(r"[Tt][0-9]{2}:[0-9]{2}:60")

# PostgreSQL text cannot hold NUL; a blank edge is almost always a copy-paste accident.
_EDGE = "\\x00\\t\\n\\x0b\\f\\r "
TEXT_PATTERN = f"^[^{_EDGE}]([^\\x00]*[^{_EDGE}])?$"
_TEXT = re.compile(TEXT_PATTERN)


def _rfc3339(value: object) -> object:
    if not isinstance(value, str):
        # ValueError, not TypeError: pydantic turns only ValueError into a validation error (422).
        raise ValueError("must be an RFC 3339 date-time string, e.g. 2030-05-01T18:00:00Z")  # noqa: TRY004
    if _DATETIME.fullmatch(value):
        return value
    if value[:4] == "0000" or value[:10] in ("0001-01-01", "9999-12-31"):
        raise ValueError("must be between 0001-01-02 and 9999-12-30 (an offset could move it out "
                         "of the years 0001-9999 once stored in UTC)")
    if _LEAP_SECOND.search(value):
        raise ValueError("leap seconds (:60) are not supported")
    if _FRACTION.search(value):
        raise ValueError("at most 6 fractional second digits (microseconds)")
    raise ValueError("must be an RFC 3339 date-time with a zone, e.g. 2030-05-01T18:00:00Z "
                     "or 2030-05-01T20:00:00+02:00")


DateTimeIn = Annotated[
    AwareDatetime,
    BeforeValidator(_rfc3339),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": DATETIME_PATTERN,
                    "description": "RFC 3339 with a zone; seconds 00-59, at most 6 fractional digits, "
                                   "0001-01-02 to 9999-12-30"})]


def _text(value: object) -> object:
    if not isinstance(value, str):
        return value  # pydantic's own str check names the type
    if "\x00" in value:
        raise ValueError("must not contain NUL (\\u0000): PostgreSQL text cannot store it")
    if any("\ud800" <= ch <= "\udfff" for ch in value):
        raise ValueError("must be valid Unicode (it holds an unpaired surrogate)")
    if value and not _TEXT.fullmatch(value):
        raise ValueError("must not start or end with a space, tab or line break")
    return value


Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT, json_schema_extra={"pattern": TEXT_PATTERN}),
                 BeforeValidator(_text)]


def after_start(ends_at: datetime, info: ValidationInfo) -> datetime:
    starts_at = info.data.get("starts_at")
    if starts_at is not None and ends_at <= starts_at:
        raise ValueError("must be after starts_at")
    return ends_at


def _integral(value: object) -> object:
    # JSON Schema counts 1136.0 as an integer; strict mode still refuses "1136", true and 1.5.
    return int(value) if isinstance(value, float) and value.is_integer() else value


Capacity = Annotated[int, Field(gt=0, le=MAX_CAPACITY, strict=True), BeforeValidator(_integral)]


class EventIn(BaseModel):
    """`ends_at` must be after `starts_at` (422 otherwise)."""

    model_config = ConfigDict(extra="forbid")

    title: Text = Field(examples=["Launch"])
    venue: Text = Field(examples=["Hall A"])
    starts_at: DateTimeIn = Field(examples=["2030-05-01T18:00:00Z"])
    ends_at: DateTimeIn = Field(examples=["2030-05-01T20:00:00+00:00"])
    capacity: Capacity = Field(examples=[120])

    # A field validator, not a model validator: its error carries the field, so the message names ends_at.
    @field_validator("ends_at")
    @classmethod
    def _ends_after_start(cls, ends_at: datetime, info: ValidationInfo) -> datetime:
        return after_start(ends_at, info)


class Event(BaseModel):
    id: UUID
    title: str
    venue: str
    starts_at: datetime = Field(description="RFC 3339, in UTC")
    ends_at: datetime = Field(description="RFC 3339, in UTC")
    capacity: int
    created_at: datetime = Field(description="RFC 3339, in UTC")


class SearchQuery(BaseModel):
    """Events starting in [starts_at, ends_at); `ends_at` must be after `starts_at` (422 otherwise)."""

    model_config = ConfigDict(extra="ignore")

    starts_at: DateTimeIn = Field(description="window start (inclusive)", examples=["2030-05-01T00:00:00Z"])
    ends_at: DateTimeIn = Field(description="window end (exclusive)", examples=["2030-05-02T00:00:00Z"])
    limit: int = Field(20, ge=1, le=MAX_SEARCH_LIMIT, description="page size", examples=[20])
    cursor: str | None = Field(None, max_length=200,
                               description="next_cursor of the previous page, unchanged (anything else is 422)")

    @field_validator("ends_at")
    @classmethod
    def _ends_after_start(cls, ends_at: datetime, info: ValidationInfo) -> datetime:
        return after_start(ends_at, info)


class SearchPage(BaseModel):
    items: list[Event]
    next_cursor: str | None


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(description="stable, machine-readable: validation_error, not_found, ...")
    message: str = Field(description="for people; on a 422 it names each field and the reason")
    request_id: str = Field(description="the X-Request-ID of this request, to quote in a report")


class ErrorBody(BaseModel):
    """The body of every error answer."""

    model_config = ConfigDict(extra="forbid")

    error: ErrorDetail


class Status(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["ok"]


class Readiness(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["ok", "degraded", "unavailable"]
    checks: dict[str, str] = Field(description='per dependency: "ok", or what is wrong')
    redis_breaker: Literal["closed", "half-open", "open"]
    detail: dict[str, str] | None = Field(None, description="present only when something is wrong: why")
