"""Request and response bodies; validation messages name the field and the reason."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field(min_length=1, max_length=200)
    venue: str = Field(min_length=1, max_length=200)
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    capacity: int = Field(gt=0, le=1_000_000, strict=True)

    @model_validator(mode="after")
    def _ends_after_start(self) -> EventIn:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class Event(BaseModel):
    id: UUID
    title: str
    venue: str
    starts_at: datetime
    ends_at: datetime
    capacity: int
    created_at: datetime


class SearchPage(BaseModel):
    items: list[Event]
    next_cursor: str | None
