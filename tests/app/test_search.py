"""Keyset pagination over (starts_at, id), and proof that the query is an index range scan."""

from __future__ import annotations

import json

from app.events import SEARCH_SQL
from tests.app.conftest import create
from tests.app.test_events import assert_error

WINDOW = {"starts_at": "2031-03-01T00:00:00Z", "ends_at": "2031-03-02T00:00:00Z"}


def test_pages_cover_the_window_once_in_order(client):
    # Same start time for several events: the id breaks the tie, so no page repeats or skips one.
    made = [create(client, starts_at="2031-03-01T10:00:00Z", ends_at="2031-03-01T11:00:00Z")["id"]
            for _ in range(4)]
    made += [create(client, starts_at=f"2031-03-01T{h:02d}:30:00Z", ends_at=f"2031-03-01T{h:02d}:45:00Z")["id"]
             for h in (9, 12, 23)]
    create(client, starts_at="2031-03-02T00:00:00Z", ends_at="2031-03-02T01:00:00Z")  # end is exclusive
    seen, cursor, pages = [], None, 0
    while True:
        params = {**WINDOW, "limit": 3, **({"cursor": cursor} if cursor else {})}
        resp = client.get("/v1/events/search", params=params)
        assert resp.status_code == 200, resp.text
        page = resp.json()
        seen += page["items"]
        pages += 1
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert pages == 3
    assert sorted(e["id"] for e in seen) == sorted(made)
    keys = [(e["starts_at"], e["id"]) for e in seen]
    assert keys == sorted(keys)


def test_absurd_limit_and_bad_window_name_the_field(client):
    assert_error(client.get("/v1/events/search", params={**WINDOW, "limit": 100000}), 422,
                 "validation_error", "limit")
    assert_error(client.get("/v1/events/search", params={**WINDOW, "limit": 0}), 422, "validation_error", "limit")
    assert_error(client.get("/v1/events/search", params={**WINDOW, "limit": 500}), 422,
                 "validation_error", "limit: at most 100")
    swapped = {"starts_at": WINDOW["ends_at"], "ends_at": WINDOW["starts_at"]}
    assert_error(client.get("/v1/events/search", params=swapped), 422, "validation_error", "ends_at")
    assert_error(client.get("/v1/events/search", params={"starts_at": WINDOW["starts_at"]}), 422,
                 "validation_error", "ends_at")
    assert_error(client.get("/v1/events/search", params={**WINDOW, "cursor": "garbage!"}), 422,
                 "validation_error", "cursor")


def _plan_nodes(node: dict):
    yield node
    for child in node.get("Plans", []):
        yield from _plan_nodes(child)


def test_search_is_an_index_range_scan_on_a_large_table(postgres, database_url):
    # 200k rows over ten years in 2040+: the planner only prefers the index when it is worth it.
    postgres.psql(
        "INSERT INTO events (title, venue, starts_at, ends_at, capacity) "
        "SELECT 'seed', 'hall', ts, ts + interval '1 hour', 100 FROM "
        "(SELECT timestamptz '2040-01-01' + (i * interval '26 minutes') AS ts "
        " FROM generate_series(1, 200000) AS i) s; ANALYZE events;")
    sql = SEARCH_SQL.replace("$1", "'2041-06-01T00:00:00Z'").replace("$2", "'2041-06-02T00:00:00Z'") \
        .replace("$3", "'2041-06-01T00:00:00Z'").replace("$4", "'00000000-0000-0000-0000-000000000000'") \
        .replace("$5", "21")
    # Statistics fresh at the moment of planning: other tests write to this database too.
    postgres.psql("ANALYZE events")
    plan = json.loads(postgres.psql(f"EXPLAIN (FORMAT JSON) {sql}"))[0]["Plan"]
    nodes = list(_plan_nodes(plan))
    shown = json.dumps(plan, indent=1)
    assert not [n for n in nodes if n["Node Type"] == "Seq Scan"], shown
    index_scans = [n for n in nodes if n["Node Type"] in ("Index Scan", "Index Only Scan", "Bitmap Index Scan")]
    assert index_scans and {n["Index Name"] for n in index_scans} == {"events_starts_at_id_idx"}, shown
    # A range on the leading column inside the index condition, whichever scan the planner chose.
    cond = " ".join(n["Index Cond"] for n in index_scans)
    assert "starts_at >=" in cond and "starts_at <" in cond, shown
    if all(n["Node Type"] != "Bitmap Index Scan" for n in index_scans):
        # An ordered scan returns rows in keyset order: no sort on top of it.
        assert not any(n["Node Type"] == "Sort" for n in nodes), shown
