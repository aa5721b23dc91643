"""The abort rule on synthetic timelines: a clearly lost target stops the run, a blip does not."""

from loadtests.abort import AbortRule

RULE = AbortRule(max_error_ratio=0.01, p95_ms=50)


def bucket(t: int, requests=100, failures=0, ms=10):
    return {"t": t, "requests": requests, "failures": failures, "http_5xx": failures, "http_503_retry_after": 0,
            "latency_ms": {str(ms): requests}}


def test_ten_seconds_at_ten_times_the_error_target_stops_the_run():
    buckets = [bucket(t, failures=10) for t in range(100, 110)]  # 10 % errors, 10x the 1 % target
    reason = RULE.check(buckets, now_s=110)
    assert reason and reason.startswith("error ratio 0.100 over the last 10 s")


def test_fewer_seconds_or_a_smaller_miss_do_not():
    assert RULE.check([bucket(t, failures=10) for t in range(101, 110)], now_s=110) is None  # 9 s only
    assert RULE.check([bucket(t, failures=9) for t in range(100, 110)], now_s=110) is None  # 9x
    assert RULE.check([bucket(t, failures=10) for t in range(100, 110)], now_s=111) is None  # second 110 missing


def test_a_p95_at_ten_times_its_target_stops_the_run():
    reason = RULE.check([bucket(t, ms=500) for t in range(100, 110)], now_s=110)
    assert reason and reason.startswith("p95 500 ms over the last 10 s")


def test_too_few_requests_say_nothing():
    assert RULE.check([bucket(t, requests=1, failures=1) for t in range(100, 110)], now_s=110) is None
