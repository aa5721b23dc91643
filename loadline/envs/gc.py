"""Which review environments `loadline env gc` destroys."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from loadline.envs.registry import EnvRecord


def select_expired(records: Iterable[EnvRecord], now: datetime) -> list[EnvRecord]:
    """Every env whose expiry is at or before `now`, oldest expiry first.

    Interrupted ups are included once expired too: their partial resources cost the same.
    """
    return sorted((r for r in records if r.expired(now)), key=lambda r: r.expires)
