"""Create and fetch events; every error has the one body shape and names the field."""

from __future__ import annotations

import uuid

from tests.app.conftest import API_KEY, EVENT, create, metric


def assert_error(resp, status: int, code: str, mentions: str = "") -> dict:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "request_id"}, body
    assert body["error"]["code"] == code
    assert body["error"]["request_id"] == resp.headers["x-request-id"]
    assert mentions in body["error"]["message"], body
    return body


def test_create_returns_201_with_location_and_the_event(client):
    resp = client.post("/v1/events", json=EVENT, headers={"X-API-Key": API_KEY})
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert resp.headers["location"] == f"/v1/events/{body['id']}"
    assert {k: body[k] for k in ("title", "venue", "capacity")} == {"title": "Launch", "venue": "Hall A",
                                                                   "capacity": 120}
    fetched = client.get(resp.headers["location"])
    assert fetched.status_code == 200
    assert fetched.json() == body


def test_create_needs_a_valid_api_key(client):
    assert_error(client.post("/v1/events", json=EVENT), 401, "unauthorized", "X-API-Key")
    assert_error(client.post("/v1/events", json=EVENT, headers={"X-API-Key": "wrong-key-wrong-key"}),
                 401, "unauthorized", "X-API-Key")


def test_wrong_types_name_the_field(client):
    resp = client.post("/v1/events", json={**EVENT, "capacity": "many"}, headers={"X-API-Key": API_KEY})
    assert_error(resp, 422, "validation_error", "capacity")
    resp = client.post("/v1/events", json={**EVENT, "starts_at": "tomorrow"}, headers={"X-API-Key": API_KEY})
    assert_error(resp, 422, "validation_error", "starts_at")


def test_missing_timezone_is_refused(client):
    resp = client.post("/v1/events", json={**EVENT, "starts_at": "2030-05-01T18:00:00"},
                       headers={"X-API-Key": API_KEY})
    assert_error(resp, 422, "validation_error", "starts_at")


def test_ends_before_start_is_refused(client):
    resp = client.post("/v1/events", json={**EVENT, "ends_at": "2030-05-01T17:00:00Z"},
                       headers={"X-API-Key": API_KEY})
    assert_error(resp, 422, "validation_error", "ends_at: must be after starts_at")


def test_oversized_body_is_413(app_factory):
    with app_factory(max_body_bytes=1024) as client:
        resp = client.post("/v1/events", json={**EVENT, "title": "x" * 2000}, headers={"X-API-Key": API_KEY})
        assert_error(resp, 413, "payload_too_large", "1024-byte limit")


def test_a_413_is_counted_under_the_route_it_was_sent_to(app_factory):
    def count(client, route):
        return metric(client, "http_request_duration_seconds_count", route=route, status="413")

    with app_factory(max_body_bytes=1024) as client:
        known, unmatched = count(client, "/v1/events"), count(client, "<unmatched>")
        client.post("/v1/events", json={**EVENT, "title": "x" * 2000}, headers={"X-API-Key": API_KEY})
        assert (count(client, "/v1/events"), count(client, "<unmatched>")) == (known + 1, unmatched)
        client.post("/no/such/route", content=b"x" * 2000)
        assert (count(client, "/v1/events"), count(client, "<unmatched>")) == (known + 1, unmatched + 1)


def test_each_answer_is_counted_under_its_own_route_method_and_status(client):
    def count(route, method, status):
        return metric(client, "http_request_duration_seconds_count", route=route, method=method, status=status)

    missing = f"/v1/events/{uuid.uuid4()}"
    labels = [("/v1/events/{event_id}", "GET", "404"), ("/v1/events/{event_id}", "GET", "422"),
              ("/v1/events/{event_id}", "GET", "200"), ("/v1/events", "POST", "201"), ("/v1/ping", "GET", "200"),
              ("/v1/events", "GET", "405"), ("/v1/events", "PUT", "405")]
    before = {label: count(*label) for label in labels}
    created = create(client)
    for path in (missing, missing, "/v1/events/not-a-uuid", f"/v1/events/{created['id']}", "/v1/ping", "/v1/events"):
        client.get(path)
    client.put("/v1/events")
    assert {label: count(*label) - before[label] for label in labels} == {
        labels[0]: 2, labels[1]: 1, labels[2]: 1, labels[3]: 1, labels[4]: 1, labels[5]: 1, labels[6]: 1}


def test_oversized_chunked_body_is_413(app_factory):
    # No Content-Length: the limit must hold while the body streams in.
    with app_factory(max_body_bytes=1024) as client:
        resp = client.post("/v1/events", content=iter([b"{" + b" " * 800, b" " * 800 + b"}"]),
                           headers={"X-API-Key": API_KEY, "content-type": "application/json"})
        assert_error(resp, 413, "payload_too_large")


def test_unknown_event_is_404(client):
    missing = uuid.uuid4()
    assert_error(client.get(f"/v1/events/{missing}"), 404, "not_found", str(missing))


def test_malformed_id_is_422_naming_event_id(client):
    assert_error(client.get("/v1/events/not-a-uuid"), 422, "validation_error", "event_id")


def test_unknown_route_and_wrong_method(client):
    assert_error(client.get("/v2/nothing"), 404, "not_found")
    assert_error(client.delete("/v1/events"), 405, "method_not_allowed")


def test_request_id_is_echoed_or_generated(client):
    resp = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert resp.headers["x-request-id"] == "abc-123"
    generated = client.get("/healthz").headers["x-request-id"]
    assert len(generated) == 32
    # A header that could inject into logs is replaced, not echoed.
    assert client.get("/healthz", headers={"X-Request-ID": "bad id\twith tab"}).headers["x-request-id"] != \
        "bad id\twith tab"


def test_created_event_survives_a_cache_flush(client, redis):
    body = create(client, title="Durable")
    with redis.client() as c:
        c.flushall()
    assert client.get(f"/v1/events/{body['id']}").json()["title"] == "Durable"


def test_an_unexpected_error_is_a_500_with_the_same_body(app_factory):
    with app_factory() as client:
        async def boom():
            raise RuntimeError("a bug")
        client.app.add_api_route("/v1/boom", boom)
        resp = client.get("/v1/boom", headers={"X-Request-ID": "bug-1"})
        body = assert_error(resp, 500, "internal_error", "request id")
        assert body["error"]["request_id"] == "bug-1"
        assert "a bug" not in resp.text  # no internals leak to the client
