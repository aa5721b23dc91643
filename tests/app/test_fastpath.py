"""Cached reads answered before the framework: the same answer, metrics and limits as the route's."""

from __future__ import annotations

from tests.app.conftest import create, metric

WINDOW = {"starts_at": "2037-03-01T00:00:00Z", "ends_at": "2037-03-02T00:00:00Z"}


def _count(client, route: str) -> float:
    return metric(client, "http_request_duration_seconds_count", route=route, method="GET", status="200")


def _headers(resp) -> list[tuple[str, str]]:
    return [(k, v) for k, v in resp.headers.multi_items() if k != "x-request-id"]


def test_an_l1_hit_with_a_held_token_answers_as_the_route_does(app_factory):
    with app_factory(rate_limit_per_second=100_000, rate_limit_burst=100_000) as client:
        event = create(client, starts_at="2037-03-01T09:00:00Z", ends_at="2037-03-01T10:00:00Z")
        for path, params, template in (("/v1/events/search", WINDOW, "/v1/events/search"),
                                       (f"/v1/events/{event['id']}", None, "/v1/events/{event_id}")):
            first = client.get(path, params=params)
            client.get(path, params=params)  # an L1 hit through the route: the worker now holds tokens
            hits, served = metric(client, "cache_requests_total", tier="l1", result="hit"), _count(client, template)
            fast = client.get(path, params=params, headers={"X-Request-ID": "fast-1"})
            assert (fast.status_code, fast.content) == (200, first.content)
            assert fast.headers["content-type"] == first.headers["content-type"] == "application/json"
            assert fast.headers["content-length"] == str(len(first.content))
            # Every header, in order, as the route sent it (only the request id differs).
            assert _headers(fast) == _headers(first)
            assert fast.headers["x-request-id"] == "fast-1"
            assert metric(client, "cache_requests_total", tier="l1", result="hit") == hits + 1
            assert _count(client, template) == served + 1  # under the route's template


def test_a_client_without_tokens_is_refused_even_when_the_page_is_in_l1(app_factory):
    with app_factory(rate_limit_per_second=0.01, rate_limit_burst=3) as client:
        statuses = [client.get("/v1/events/search", params=WINDOW).status_code for _ in range(5)]
        assert statuses == [200, 200, 200, 429, 429]
