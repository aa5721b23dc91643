"""The API contract: what /openapi.json promises is what the service does, on real PostgreSQL and Redis."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime
from decimal import Decimal

import jsonschema
import pytest

from tests.app.conftest import API_KEY, EVENT, create
from tests.app.test_events import assert_error

# RFC 3339 section 5.6, written out here independently of the service's own pattern.
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def post(client, **fields):
    # json.dumps escapes to ASCII, so an unpaired surrogate travels as the escape a client would send.
    return client.post("/v1/events", content=json.dumps({**EVENT, **fields}),
                       headers={"X-API-Key": API_KEY, "content-type": "application/json"})


def instant(text: str) -> datetime:
    assert RFC3339.match(text), f"not RFC 3339: {text!r}"
    return datetime.fromisoformat(text.upper())


def epoch(value: datetime) -> Decimal:
    delta = value - EPOCH
    return Decimal((delta.days * 86400 + delta.seconds) * 10**6 + delta.microseconds) / 10**6


def stored_epoch(postgres, event_id: str, column: str) -> Decimal:
    return Decimal(postgres.psql(f"SELECT extract(epoch FROM {column}) FROM events WHERE id = '{event_id}'"))


@pytest.mark.parametrize("field", ["title", "venue"])
@pytest.mark.parametrize("value, reason", [
    ("Hall\u0000A", "NUL"),
    ("Hall \ud800", "unpaired surrogate"),
    (" Hall A", "start or end with"),
    ("Hall A\n", "start or end with"),
])
def test_text_postgresql_would_refuse_is_422_naming_the_field(client, field, value, reason):
    assert_error(post(client, **{field: value}), 422, "validation_error", f"{field}: must")
    assert reason in post(client, **{field: value}).json()["error"]["message"]


@pytest.mark.parametrize("value, reason", [
    ("0001-01-01T00:30:00+01:00", "between 0001-01-02 and 9999-12-30"),   # 0000-12-31 in UTC
    ("9999-12-31T23:00:00-05:00", "between 0001-01-02 and 9999-12-30"),   # year 10000 in UTC
    ("0000-06-01T00:00:00Z", "between 0001-01-02 and 9999-12-30"),
    ("2030-06-30T23:59:60Z", "leap seconds"),
    ("2030-05-01T18:00:00.1234567Z", "at most 6 fractional"),
    ("1900000000", "RFC 3339"),
    ("2030-05-01 18:00:00Z", "RFC 3339"),
    ("2030-05-01T18:00Z", "RFC 3339"),
    ("2030-05-01T18:00:00+0200", "RFC 3339"),
    ("2030-05-01T18:00:00,5Z", "RFC 3339"),
    ("2030-05-01T18:00:00", "RFC 3339"),
    (1900000000, "RFC 3339"),
])
def test_datetimes_outside_the_contract_are_422_naming_the_field(client, value, reason):
    body = assert_error(post(client, starts_at=value, ends_at="9999-12-30T00:00:00Z"), 422, "validation_error",
                        "starts_at: ")
    assert reason in body["error"]["message"], body
    query = {"starts_at": "2030-01-01T00:00:00Z", "ends_at": value}
    body = assert_error(client.get("/v1/events/search", params=query), 422, "validation_error", "ends_at: ")
    assert reason in body["error"]["message"], body


@pytest.mark.parametrize("starts_at, ends_at", [
    ("0357-03-01T12:00:00+19:31", "0357-03-02T00:00:00-23:59"),
    ("0001-01-02T00:00:00+23:59", "0001-01-02T00:00:00.000001Z"),
    ("9999-12-30T00:00:00Z", "9999-12-30T23:59:59.999999-23:59"),
    ("2030-05-01t18:00:00.5z", "2030-05-01T20:00:00.123456+01:45"),
])
def test_accepted_datetimes_come_back_as_rfc3339_meaning_the_same_instant(client, postgres, starts_at, ends_at):
    resp = post(client, starts_at=starts_at, ends_at=ends_at)
    assert resp.status_code == 201, resp.text
    created = resp.json()
    fetched = client.get(f"/v1/events/{created['id']}").json()
    for field, sent in (("starts_at", starts_at), ("ends_at", ends_at)):
        for answer in (created, fetched):
            assert instant(answer[field]) == instant(sent), (field, sent, answer[field])
        # ... and PostgreSQL holds that very instant, to the microsecond.
        assert stored_epoch(postgres, created["id"], field) == epoch(instant(sent))
    # The window accepts the same spellings, and finds the event by its start.
    page = client.get("/v1/events/search", params={"starts_at": starts_at, "ends_at": ends_at, "limit": 100})
    assert page.status_code == 200, page.text
    assert created["id"] in [e["id"] for e in page.json()["items"]]


@pytest.mark.parametrize("starts_at, ends_at", [
    ("0001-01-01 00:00:00+00", "0001-01-01 00:00:00.000001+00"),
    ("9999-12-31 23:59:59.999998+00", "9999-12-31 23:59:59.999999+00"),
    ("1582-10-04 23:59:59.5-03:07", "1582-10-15 00:00:00+14")])
def test_instants_written_by_postgresql_come_back_as_rfc3339(client, postgres, starts_at, ends_at):
    event_id = postgres.psql(
        "INSERT INTO events (title, venue, starts_at, ends_at, capacity) "
        f"VALUES ('direct', 'hall', '{starts_at}', '{ends_at}', 1) RETURNING id").splitlines()[0]
    got = client.get(f"/v1/events/{event_id}")
    assert got.status_code == 200, got.text
    for field in ("starts_at", "ends_at"):
        assert epoch(instant(got.json()[field])) == stored_epoch(postgres, event_id, field)


@pytest.mark.parametrize("content", [
    ["0001-01-01T00:00:00+05:00", "00000000-0000-0000-0000-000000000000"],   # year 0 in UTC
    ["9999-12-31T23:00:00-05:00", "00000000-0000-0000-0000-000000000000"],   # year 10000 in UTC
    ["2031-03-01T00:00:00", "00000000-0000-0000-0000-000000000000"],         # no zone
    ["2031-03-01T00:00:00Z", 1],
    [1, "00000000-0000-0000-0000-000000000000"],
])
def test_a_crafted_cursor_is_422_naming_cursor(client, content):
    cursor = base64.urlsafe_b64encode(json.dumps(content).encode()).decode().rstrip("=")
    params = {"starts_at": "2031-01-01T00:00:00Z", "ends_at": "2031-12-01T00:00:00Z", "cursor": cursor}
    assert_error(client.get("/v1/events/search", params=params), 422, "validation_error", "cursor: ")


def test_a_cursor_at_the_edge_of_the_range_still_pages(client, postgres):
    postgres.psql("INSERT INTO events (title, venue, starts_at, ends_at, capacity) SELECT 'edge', 'hall', "
                  "'0001-01-01 12:00:00+00', '0001-01-01 13:00:00+00', 1 FROM generate_series(1, 3)")
    window = {"starts_at": "0001-01-02T00:00:00+23:59", "ends_at": "0001-01-02T00:00:00Z", "limit": 2}
    first = client.get("/v1/events/search", params=window).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    second = client.get("/v1/events/search", params={**window, "cursor": first["next_cursor"]})
    assert second.status_code == 200, second.text
    assert len(second.json()["items"]) >= 1


def test_capacity_written_as_a_whole_float_is_an_integer(client):
    # JSON Schema's "integer" admits 120.0; only a fraction, a string or a boolean is refused.
    assert post(client, capacity=120.0).json()["capacity"] == 120
    for value in (120.5, "120", True):
        assert_error(post(client, capacity=value), 422, "validation_error", "capacity")


def test_reversed_window_names_ends_at(client):
    assert_error(post(client, ends_at=EVENT["starts_at"]), 422, "validation_error", "ends_at: must be after starts_at")


# --- the document itself -------------------------------------------------------------------------

ERRORS = {
    ("post", "/v1/events"): {400, 401, 413, 422, 429, 500, 503},
    ("get", "/v1/events/{event_id}"): {404, 422, 429, 500, 503},
    ("get", "/v1/events/search"): {422, 429, 500, 503},
    ("get", "/healthz"): {500}, ("get", "/v1/ping"): {500}, ("get", "/metrics"): {500},
}


def test_every_error_status_is_documented_with_the_error_body(client):
    doc = client.get("/openapi.json").json()
    for (method, path), statuses in ERRORS.items():
        responses = doc["paths"][path][method]["responses"]
        documented = {int(s) for s in responses if not s.startswith("2")}
        assert documented == statuses, (method, path, documented)
        for status in statuses:
            schema = responses[str(status)]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (method, path, status)
            if status in (429, 503):
                assert responses[str(status)]["headers"]["Retry-After"]["required"] is True
    assert doc["paths"]["/v1/events"]["post"]["security"] == [{"ApiKey": []}]
    assert doc["components"]["securitySchemes"]["ApiKey"] == {"type": "apiKey", "in": "header", "name": "X-API-Key"}


def _validator(doc: dict, path: str, method: str, status: int) -> jsonschema.Draft202012Validator:
    schema = doc["paths"][path][method]["responses"][str(status)]["content"]["application/json"]["schema"]
    return jsonschema.Draft202012Validator({**schema, "components": doc["components"]},
                                           format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def test_real_error_answers_match_their_documented_schema(app_factory, postgres, outage):
    window = {"starts_at": "2030-01-01T00:00:00Z", "ends_at": "2030-01-02T00:00:00Z"}
    with app_factory(max_body_bytes=1024) as client:
        doc = client.get("/openapi.json").json()
        answers = [
            ("/v1/events", "post", client.post("/v1/events", json=EVENT)),
            ("/v1/events", "post", client.post("/v1/events", content=b"\xff{", headers={
                "X-API-Key": API_KEY, "content-type": "application/json"})),
            ("/v1/events", "post", post(client, title="x" * 2000)),
            ("/v1/events/{event_id}", "get", client.get("/v1/events/00000000-0000-0000-0000-00000000beef")),
            ("/v1/events/{event_id}", "get", client.get("/v1/events/not-a-uuid")),
        ]
    with app_factory(rate_limit_per_second=0.001, rate_limit_burst=1) as client:
        client.get("/v1/events/search", params=window)
        answers.append(("/v1/events/search", "get", client.get("/v1/events/search", params=window)))
    outage.stop(postgres)
    with app_factory() as client:
        answers.append(("/v1/events/search", "get", client.get("/v1/events/search", params={
            "starts_at": "2030-01-03T00:00:00Z", "ends_at": "2030-01-04T00:00:00Z"})))
    assert [a[2].status_code for a in answers] == [401, 400, 413, 404, 422, 429, 503]
    for path, method, resp in answers:
        _validator(doc, path, method, resp.status_code).validate(resp.json())
        assert "x-request-id" in resp.headers


def test_success_answers_match_their_documented_schema(client):
    doc = client.get("/openapi.json").json()
    created = create(client)
    _validator(doc, "/v1/events", "post", 201).validate(created)
    _validator(doc, "/v1/events/{event_id}", "get", 200).validate(client.get(f"/v1/events/{created['id']}").json())
    page = client.get("/v1/events/search", params={"starts_at": EVENT["starts_at"], "ends_at": EVENT["ends_at"]})
    _validator(doc, "/v1/events/search", "get", 200).validate(page.json())
    for path in ("/healthz", "/readyz", "/v1/ping"):
        _validator(doc, path, "get", 200).validate(client.get(path).json())


def test_metrics_content_type_is_the_documented_one(client):
    doc = client.get("/openapi.json").json()
    documented = set(doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"])
    served = client.get("/metrics").headers["content-type"].split(";")[0]
    assert documented == {served} == {"text/plain"}


def test_search_limit_in_the_document_is_the_one_enforced(app_factory):
    with app_factory(search_max_limit=50) as client:
        params = {p["name"]: p for p in client.get("/openapi.json").json()["paths"]["/v1/events/search"]["get"]
                  ["parameters"]}
        assert params["limit"]["schema"]["maximum"] == 50
        window = {"starts_at": "2030-01-01T00:00:00Z", "ends_at": "2030-01-02T00:00:00Z"}
        assert client.get("/v1/events/search", params={**window, "limit": 50}).status_code == 200
        assert_error(client.get("/v1/events/search", params={**window, "limit": 51}), 422, "validation_error",
                     "limit: at most 50")
