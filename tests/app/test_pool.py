"""Database connections go back to the pool after every kind of request."""

from __future__ import annotations

from tests.app.conftest import API_KEY, EVENT, create, metric

WINDOW = {"starts_at": "2035-02-01T00:00:00Z", "ends_at": "2035-02-02T00:00:00Z"}


def test_connections_return_to_the_pool_after_requests(client, postgres, outage):
    baseline = metric(client, "db_pool_connections_in_use")
    event = create(client, starts_at="2035-02-01T10:00:00Z", ends_at="2035-02-01T11:00:00Z")
    client.get(f"/v1/events/{event['id']}")
    client.get("/v1/events/search", params=WINDOW)
    client.get("/v1/events/00000000-0000-0000-0000-00000000dead")  # 404 from the database
    bad = client.post("/v1/events", json={**event, "capacity": -1}, headers={"X-API-Key": API_KEY})
    assert bad.status_code == 422
    outage.stop(postgres)
    down = client.post("/v1/events", json={**EVENT, "title": "while down"}, headers={"X-API-Key": API_KEY})
    assert down.status_code == 503
    assert client.get("/v1/events/00000000-0000-0000-0000-00000000beef").status_code == 503
    outage.restart(postgres)
    assert client.get("/readyz").status_code == 200
    assert metric(client, "db_pool_connections_in_use") == baseline == 0
    pool = client.app.state.services.db.pool
    assert pool.get_size() - pool.get_idle_size() == 0  # the pool's own count agrees
