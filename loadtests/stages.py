"""Load shapes as data.

Each shape is a list of (end of stage as a fraction of the run, users as a
fraction of the profile's `load.users`). `stages()` scales one to a concrete
Locust stages list: cumulative `duration` in seconds, `users`, `spawn_rate`.
This module imports nothing from Locust so that the gate can compute stages
without Locust's gevent monkey-patching.
"""

from __future__ import annotations

import math

SHAPES: dict[str, list[tuple[float, float]]] = {
    # The whole run at the profile's users.
    "steady": [(1.0, 1.0)],
    # Quarter steps up to the full user count.
    "ramp": [(0.25, 0.25), (0.5, 0.5), (0.75, 0.75), (1.0, 1.0)],
    # A third of the users, a burst at full count in the middle, then back.
    "spike": [(0.4, 1 / 3), (0.6, 1.0), (1.0, 1 / 3)],
}


def stages(shape: str, *, users: int, spawn_rate: float, duration_s: int) -> list[dict]:
    """The stages of `shape` for a run of `duration_s` seconds peaking at `users`."""
    if shape not in SHAPES:
        raise ValueError(f"unknown load shape '{shape}' (known: {', '.join(SHAPES)})")
    if users < 1 or duration_s < 1 or spawn_rate <= 0:
        raise ValueError("users and duration must be >= 1 and spawn_rate > 0")
    out = []
    for end, share in SHAPES[shape]:
        # A spike must arrive at once, whatever the profile's spawn rate.
        rate = max(spawn_rate, users) if shape == "spike" else spawn_rate
        out.append({"duration": max(1, math.ceil(end * duration_s)),
                    "users": max(1, round(share * users)),
                    "spawn_rate": float(rate)})
    return out


def total_duration(stage_list: list[dict]) -> int:
    return stage_list[-1]["duration"] if stage_list else 0
