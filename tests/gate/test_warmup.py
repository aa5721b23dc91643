"""The warm-up (load.warmupSeconds): its first seconds are reported but not judged for p95/p99."""

from types import SimpleNamespace

from rich.console import Console

from loadline.faults.schedule import Injection
from loadline.faults.spec import parse_fault
from loadline.gate.decision import EndpointStats, RunStats, Targets, decide
from loadline.gate.fault_report import fault_report
from loadline.gate.runner import _latency_basis, _server, _server_window
from loadline.profile import FaultTargets, load_profile
from loadtests.timeline import Timeline

T0 = 1_700_000_000.0


def gate_run(warmup: int) -> SimpleNamespace:
    return SimpleNamespace(profile=SimpleNamespace(load=SimpleNamespace(warmup_seconds=warmup)))


def timeline(latencies_ms: list[float], per_second: int = 10) -> list[dict]:
    tl = Timeline()
    for i, ms in enumerate(latencies_ms):
        for _ in range(per_second):
            tl.add(start_time=T0 + i + 0.2, response_time_ms=ms, failed=False, status=200,
                   retry_after=False, endpoint="GET /v1/events")
    return tl.as_list()


def test_without_warm_up_or_fault_the_whole_run_is_judged():
    assert _latency_basis(gate_run(0), timeline([500, 5]), T0, [], None) is None


def test_the_warm_up_seconds_are_left_out_from_the_load_start():
    tl = timeline([700, 400, 300, 9, 8, 7])
    # The load started 0.6 s into its first second: the warm-up runs to the whole second 3 s on.
    where, stats = _latency_basis(gate_run(3), tl, T0 + 0.6, [], None)
    assert where == "after the 3 s warm-up"
    assert stats.total.requests == 30 and stats.total.p99_ms == 9
    targets = Targets(p95_ms=50, min_rps=1, max_error_ratio=0.01, p99_ms=150)
    whole = RunStats(total=EndpointStats(60, 0, 9, 700, 700, 10))
    assert not decide(targets, whole).passed
    assert decide(targets, whole, latency_basis=(where, stats)).passed
    _, shorter = _latency_basis(gate_run(2), tl, T0 + 0.6, [], None)
    assert shorter.total.p99_ms == 300


def test_a_warm_up_and_a_fault_are_both_left_out_and_both_named():
    tl = timeline([700, 9, 9, 800, 800, 9, 9, 9])
    inj = [Injection(parse_fault("redis-stall@3s:2s"), target="x", started_at=T0 + 3, ended_at=T0 + 5)]
    fault = fault_report(inj, load_start=T0, timeline=tl, targets=Targets(p95_ms=50, min_rps=1, max_error_ratio=0.01),
                         fault_targets=FaultTargets(), acknowledged=0, lost_ids=[], checked_in="postgres")
    where, stats = _latency_basis(gate_run(1), tl, T0, inj, fault)
    assert where == "after the 1 s warm-up, outside the faults"
    assert stats.total.requests == 50 and stats.total.p95_ms == 9


def test_the_local_profile_warms_up_for_less_than_its_load():
    load = load_profile("local").load
    assert 0 < load.warmup_seconds < load.duration_s


def server_run(warmup: int, scrape: str = "5s") -> SimpleNamespace:
    return SimpleNamespace(profile=SimpleNamespace(load=SimpleNamespace(warmup_seconds=warmup),
                                                   monitoring=SimpleNamespace(scrape_interval=scrape)),
                           server_evidence=True, prometheus_url="http://127.0.0.1:1")


def test_the_server_window_starts_after_the_warm_up():
    w = _server_window(server_run(5), T0, T0 + 30, [])
    assert w is not None and (w.start, w.end) == (T0 + 5, T0 + 30)


def test_a_short_run_without_faults_still_asks_the_server():
    # An in-cluster run's statistics can come back within a second of its start.
    w = _server_window(server_run(0), T0, T0 + 0.4, [])
    assert w is not None and (w.start, w.end) == (T0, T0 + 0.4)


def test_in_a_fault_run_the_server_window_ends_a_scrape_before_the_first_fault():
    inj = [Injection(parse_fault("redis-stall@20s:2s"), target="x", started_at=T0 + 20, ended_at=T0 + 22),
           Injection(parse_fault("redis-stall@12s:2s"), target="x", started_at=T0 + 12, ended_at=T0 + 14)]
    w = _server_window(server_run(2, "5s"), T0, T0 + 30, inj)
    assert w is not None and (w.start, w.end) == (T0 + 2, T0 + 7)


def test_a_fault_inside_the_warm_up_leaves_the_server_nothing_and_says_so():
    inj = [Injection(parse_fault("redis-stall@3s:2s"), target="x", started_at=T0 + 3, ended_at=T0 + 5)]
    run = server_run(5)
    assert _server_window(run, T0, T0 + 30, inj) is None
    result = _server(run, None, Console(quiet=True))
    assert not result.available and result.failures
    assert "start the fault later" in result.failures[0]


def test_the_terminal_names_how_long_a_window_the_server_judged():
    import io

    from loadline.gate.summary import print_summary
    from loadline.gate.verdict import ServerResult, ServerRoute, Verdict
    from tests.gate.test_verdict import STATS

    targets = Targets(p95_ms=50, min_rps=1, max_error_ratio=0.01)
    server = ServerResult(available=True, window_start=T0 + 5, window_end=T0 + 31, requests=10,
                          per_route={"GET /v1/events": ServerRoute(requests=10, http_5xx=0, p95_ms=3, p99_ms=4)})
    verdict = Verdict.build(stack="local", host="h", targets=targets, stats=STATS,
                            decision=decide(targets, STATS), server=server)
    out = io.StringIO()
    print_summary(Console(file=out, width=200), verdict)
    assert "the server's view (Prometheus, 26 s judged)" in out.getvalue()
