"""The app under test, in-process (Starlette's TestClient runs its lifespan), on real servers."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from prometheus_client.parser import text_string_to_metric_families

with warnings.catch_warnings():
    # Starlette suggests httpx2 for its TestClient; httpx (pinned) works and is what we ship with.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from app.main import create_app
from app.migrations import migrate
from app.settings import Settings

API_KEY = "test-key-0123456789abcdef"
EVENT = {"title": "Launch", "venue": "Hall A", "starts_at": "2030-05-01T18:00:00Z",
         "ends_at": "2030-05-01T20:00:00Z", "capacity": 120}


@pytest.fixture(scope="session")
def database_url(postgres) -> str:
    asyncio.run(migrate(postgres.url, wait_s=30))
    return postgres.url


def make_settings(database_url: str, redis_urls: list[str], **overrides) -> Settings:
    values = dict(environment="development", database_url=database_url, redis_url=redis_urls,
                  api_keys=[API_KEY], rate_limit_per_second=10_000, rate_limit_burst=10_000,
                  cache_event_ttl_seconds=60, cache_search_ttl_seconds=60, access_log=False, redis_breaker_base_seconds=0)
    values.update(overrides)
    return Settings(**values)


@contextmanager
def running(settings: Settings) -> Iterator[TestClient]:
    # raise_server_exceptions=False: a bug must show up as the 500 a client would get.
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def app_factory(database_url, redis) -> Callable[..., TestClient]:
    """`with app_factory(**settings) as client:` an app on the session's Postgres and Redis."""
    with redis.client() as c:
        c.flushall()

    def factory(**overrides):
        return running(make_settings(database_url, [redis.url], **overrides))
    return factory


@pytest.fixture
def client(app_factory) -> Iterator[TestClient]:
    with app_factory() as c:
        yield c


def metric(client: TestClient, name: str, **labels: str) -> float:
    """The current value of one sample in /metrics (0 when absent)."""
    text = client.get("/metrics").text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


def create(client: TestClient, **fields) -> dict:
    resp = client.post("/v1/events", json={**EVENT, **fields}, headers={"X-API-Key": API_KEY})
    assert resp.status_code == 201, resp.text
    return resp.json()
