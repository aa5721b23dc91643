"""`loadline env list`'s table: each review env with its age, expiry, state and last verdict."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from rich.table import Table

from loadline.envs.registry import EnvRecord
from loadline.envs.ttl import format_ttl


def records_table(records: Sequence[EnvRecord], now: datetime) -> Table:
    table = Table(title="review envs")
    for col in ("name", "from", "owner", "age", "expires", "state", "last verdict", "api"):
        table.add_column(col)
    for r in records:
        left = r.expires - now
        expires = f"in {format_ttl(left)}" if left.total_seconds() > 0 else f"{format_ttl(-left)} ago"
        verdict: str = r.last_verdict or "-"
        if r.verdict_at:
            verdict += f" ({format_ttl(now - r.verdict_at)} ago)"
        table.add_row(r.name, r.from_stack, r.owner, format_ttl(now - r.created), expires,
                      r.state(now), verdict, r.api_url or "-")
    return table
