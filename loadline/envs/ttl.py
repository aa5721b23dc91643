"""Time to live of a review environment: `90m`, `24h`, `7d`."""

from __future__ import annotations

import re
from datetime import timedelta

from loadline.envs.errors import EnvError

# Shorter than an up plus a gate run would be collected while still in use; longer than two
# weeks is no longer a review environment.
MIN_TTL = timedelta(minutes=15)
MAX_TTL = timedelta(days=14)
_TTL = re.compile(r"^([0-9]{1,6})([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def parse_ttl(value: str) -> timedelta:
    """'90m' -> 90 minutes; raise EnvError naming the format or the bound broken."""
    m = _TTL.match(value.strip())
    if not m:
        raise EnvError(
            f"invalid --ttl '{value}': expected a number and a unit m, h or d (e.g. 90m, 24h, 7d)")
    ttl = timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
    if ttl < MIN_TTL:
        raise EnvError(f"invalid --ttl '{value}': shorter than the minimum of {format_ttl(MIN_TTL)}")
    if ttl > MAX_TTL:
        raise EnvError(f"invalid --ttl '{value}': longer than the maximum of {format_ttl(MAX_TTL)}")
    return ttl


def format_ttl(delta: timedelta) -> str:
    """A short human duration: 45m, 3h20m, 2d4h. Negative durations keep their sign."""
    total = int(delta.total_seconds())
    sign = "-" if total < 0 else ""
    minutes = abs(total) // 60
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{sign}{days}d{hours}h" if hours else f"{sign}{days}d"
    if hours:
        return f"{sign}{hours}h{mins}m" if mins else f"{sign}{hours}h"
    return f"{sign}{mins}m"
