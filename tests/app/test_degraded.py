"""Real outages mid-test: Redis down degrades to PostgreSQL; PostgreSQL down is 503, never a lost 201."""

from __future__ import annotations

from tests.app.conftest import API_KEY, EVENT, create, metric
from tests.app.test_events import assert_error

WINDOW = {"starts_at": "2033-01-01T00:00:00Z", "ends_at": "2033-01-02T00:00:00Z"}


def test_redis_down_still_serves_from_postgres(client, redis, outage):
    event = create(client, starts_at="2033-01-01T08:00:00Z", ends_at="2033-01-01T09:00:00Z")
    degraded = metric(client, "degraded_requests_total", dependency="redis")
    outage.stop(redis)

    statuses = [client.get(f"/v1/events/{event['id']}").status_code,
                client.get("/v1/events/search", params=WINDOW).status_code]
    written = client.post("/v1/events", json={**EVENT, "starts_at": "2033-01-01T10:00:00Z",
                                              "ends_at": "2033-01-01T11:00:00Z"}, headers={"X-API-Key": API_KEY})
    assert statuses == [200, 200]
    assert written.status_code == 201, written.text
    found = client.get("/v1/events/search", params=WINDOW).json()["items"]
    assert {event["id"], written.json()["id"]} <= {e["id"] for e in found}
    assert metric(client, "degraded_requests_total", dependency="redis") >= degraded + 4
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["redis"] != "ok"

    outage.restart(redis)
    client.get(f"/v1/events/{event['id']}")
    hits = metric(client, "cache_requests_total", result="hit")
    client.get(f"/v1/events/{event['id']}")
    assert metric(client, "cache_requests_total", result="hit") == hits + 1  # the cache is back in use


def test_postgres_down_is_503_with_retry_after_and_readyz_says_so(client, postgres, outage):
    assert client.get("/readyz").json()["status"] == "ok"
    cached = create(client, starts_at="2033-02-01T08:00:00Z", ends_at="2033-02-01T09:00:00Z")
    client.get(f"/v1/events/{cached['id']}")  # now in Redis
    degraded = metric(client, "degraded_requests_total", dependency="postgres")
    outage.stop(postgres)

    # What the cache holds is still served.
    assert client.get(f"/v1/events/{cached['id']}").json() == cached

    resp = client.get("/v1/events/search", params={"starts_at": "2033-02-01T00:00:00Z",
                                                   "ends_at": "2033-02-02T00:00:00Z"})
    assert_error(resp, 503, "database_unavailable")
    assert resp.headers["retry-after"] == "5"
    write = client.post("/v1/events", json=EVENT, headers={"X-API-Key": API_KEY})
    assert_error(write, 503, "database_unavailable")
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.headers["retry-after"] == "5"
    assert ready.json()["checks"]["postgres"] == "unreachable"
    assert metric(client, "degraded_requests_total", dependency="postgres") >= degraded + 2

    outage.restart(postgres)
    # Pooled connections died with the server; the first request after it returns must not fail.
    assert client.get("/readyz").status_code == 200
    assert client.get("/v1/events/search", params=WINDOW).status_code == 200


def test_a_201_survives_a_postgres_crash(client, postgres, redis, outage):
    made = [create(client, title=f"crash-{i}", starts_at="2033-03-01T10:00:00Z",
                   ends_at="2033-03-01T11:00:00Z") for i in range(5)]
    outage.kill(postgres)  # SIGKILL: no clean shutdown, no checkpoint
    outage.restart(postgres)
    with redis.client() as c:
        c.flushall()  # answers must come from the database
    for event in made:
        resp = client.get(f"/v1/events/{event['id']}")
        assert resp.status_code == 200, resp.text
        assert resp.json() == event  # the row itself survived, every field as acknowledged


def test_a_write_right_after_a_postgres_restart_succeeds(client, postgres, outage):
    create(client, title="before-restart")  # the pool now holds open connections
    outage.stop(postgres)
    outage.restart(postgres)
    # The pooled connections died with the server: the first write must still get a 201.
    event = create(client, title="after-restart", starts_at="2033-04-01T10:00:00Z",
                   ends_at="2033-04-01T11:00:00Z")
    assert client.get(f"/v1/events/{event['id']}").json() == event
