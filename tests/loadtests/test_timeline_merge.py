"""A worker's timeline reaches its master whole: what is taken once is absorbed once."""

from loadtests.timeline import Timeline


def _add(t: Timeline, second: float, ms: float, status: int = 200):
    t.add(start_time=second, response_time_ms=ms, failed=status >= 500, status=status, retry_after=False)


def test_taken_buckets_add_up_on_the_master():
    master, worker = Timeline(), Timeline()
    _add(master, 100.2, 5)
    _add(worker, 100.7, 5)
    _add(worker, 101.1, 250, 503)
    master.absorb(worker.take())
    assert worker.take() == []  # taken once: a second report carries nothing twice
    _add(worker, 101.5, 7)
    master.absorb(worker.take())
    buckets = {b["t"]: b for b in master.as_list()}
    assert buckets[100]["requests"] == 2 and buckets[100]["latency_ms"] == {"5": 2}
    assert buckets[101]["requests"] == 2 and buckets[101]["http_5xx"] == 1
    assert buckets[101]["latency_ms"] == {"250": 1, "7": 1}
