"""Seed a host with events through its API before a run.

Half the events start in the hot window (the coming week), half are spread
over the past year (the cold windows). The result, written by the gate to
`seed.json`, tells the locustfile which ids exist and where the data lies.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import requests

from loadtests.events_api import CREATE, check_created, hot_window, new_event


class SeedError(Exception):
    pass


def seed(host: str, api_key: str, *, count: int = 200, timeout_s: float = 60.0) -> dict:
    now = datetime.now(UTC)
    session = requests.Session()
    session.headers["X-API-Key"] = api_key
    ids: list[str] = []
    cold: list[str] = []  # starts_at of each cold event
    deadline = now.timestamp() + timeout_s
    for i in range(count):
        if datetime.now(UTC).timestamp() > deadline:
            raise SeedError(f"seeding took longer than {timeout_s:g} s ({i} of {count} events)")
        hot = i % 2 == 0
        when = (now + timedelta(hours=random.uniform(1, 160)) if hot
                else now - timedelta(days=random.uniform(2, 365)))
        body = new_event(when)
        try:
            resp = session.post(f"{host}{CREATE}", json=body, timeout=10)
        except requests.RequestException as exc:
            raise SeedError(f"POST {CREATE}: {exc}") from None
        if resp.status_code not in (200, 201):
            raise SeedError(f"POST {CREATE} answered {resp.status_code}: {resp.text[:300]}")
        problem = check_created(resp.json(), body)
        if problem:
            raise SeedError(problem)
        ids.append(str(resp.json()["id"]))
        if not hot:
            cold.append(body["starts_at"])
    return {"ids": ids, "cold_times": cold, "hot_window": list(hot_window(now)),
            "seeded_at": now.isoformat()}
