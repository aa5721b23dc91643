"""The fault section: windows, recovery and the fault targets, from a per-second timeline."""

import json
import math

from loadline.faults.schedule import Injection
from loadline.faults.spec import parse_fault
from loadline.gate.decision import Decision, EndpointStats, RunStats, Targets, decide
from loadline.gate.fault_report import (
    fault_report,
    fault_spans,
    latency_outside,
    recovery_seconds,
    steady_errors,
)
from loadline.gate.verdict import Verdict
from loadline.profile import FaultTargets
from loadtests.timeline import Timeline, merge, percentile
from tests.gate.test_verdict import STATS
from tests.verdict_schema import assert_valid_verdict

T0 = 1_700_000_000.0
TARGETS = Targets(p95_ms=100.0, min_rps=1.0, max_error_ratio=0.01)


def timeline(per_second):
    """per_second: list of (requests, failures, status of the failures, retry_after, latency ms)."""
    tl = Timeline()
    for i, (n, failed, status, retry_after, ms) in enumerate(per_second):
        for k in range(n):
            bad = k < failed
            tl.add(start_time=T0 + i + 0.5, response_time_ms=ms, failed=bad,
                   status=status if bad else 200, retry_after=retry_after)
    return tl.as_list()


def injection(spec, start, end, target="x"):
    return Injection(parse_fault(spec), target=target, started_at=T0 + start, ended_at=T0 + end)


def report(inj, tl, lost=(), acknowledged=10):
    return fault_report(inj, load_start=T0, timeline=tl, targets=TARGETS, fault_targets=FaultTargets(),
                        acknowledged=acknowledged, lost_ids=list(lost), checked_in="postgres")


OK = (100, 0, None, False, 10)


def test_absorbed_fault_passes_and_splits_the_run():
    tl = timeline([OK] * 20)
    r = report([injection("redis-primary-kill@5s:4s", 5.2, 9.3)], tl)
    assert r.passed and r.failures == []
    f = r.injected[0]
    assert (f.during.start_s, f.during.end_s, f.during.requests) == (5, 10, 500)
    assert (f.after.start_s, f.after.end_s, f.after.requests) == (10, 20, 1000)
    assert f.recovery_seconds == 0 and f.started_s == 5.2 and f.ended_s == 9.3
    assert f.started_at.endswith("Z") and f.target == "x"


def test_errors_and_5xx_in_an_absorbed_fault_miss_its_targets():
    tl = timeline([OK] * 6 + [(100, 2, 500, False, 10)] + [OK] * 13)
    r = report([injection("redis-all-kill@5s:3s", 5.0, 8.0)], tl)
    assert not r.passed
    assert any("error ratio 0.0013 (2/1500)" in f for f in r.failures)
    assert any("2 responses were 5xx" in f for f in r.failures)


def test_outage_allows_only_503_with_retry_after_and_must_recover():
    good = timeline([OK] * 5 + [(50, 50, 503, True, 5)] * 5 + [OK] * 10)
    r = report([injection("postgres-restart@5s:5s", 5.0, 10.0)], good)
    assert r.passed, r.failures
    assert r.injected[0].during.http_503_retry_after == 250
    bare = timeline([OK] * 5 + [(50, 50, 503, False, 5)] * 5 + [OK] * 10)
    assert any("250 of 250 failed requests during the outage were not 503 with Retry-After" in f
               for f in report([injection("postgres-restart@5s:5s", 5.0, 10.0)], bare).failures)


def test_recovery_counts_from_the_end_of_the_fault_to_stable_good_seconds():
    slow = (100, 0, None, False, 500)
    # Bad until second 17 (7 s after the fault's end at 10.0), then good to the end.
    tl = timeline([OK] * 5 + [slow] * 12 + [OK] * 8)
    r = report([injection("postgres-restart@5s:5s", 5.0, 10.0)], tl)
    assert r.injected[0].recovery_seconds == 7
    assert any("recovered in 7 s, target 5 s" in f for f in r.failures)
    never = timeline([OK] * 5 + [slow] * 15)
    r = report([injection("postgres-restart@5s:5s", 5.0, 10.0)], never)
    assert r.injected[0].recovery_seconds is None
    assert any("never recovered" in f for f in r.failures)
    # A lone good second is not a recovery: three in a row are.
    flicker = timeline([OK] * 10 + [slow, OK, slow, OK, OK, OK, OK])
    assert recovery_seconds(flicker, T0 + 10.0, int(T0) + 17, TARGETS) == 3


SLOW = (100, 0, None, False, 500)
GAP = (0, 0, None, False, 0)  # a second in which no request started


def test_recovery_skips_seconds_without_requests():
    # A load generator that pauses every third second must not turn a clean recovery into "never".
    stalling = timeline([OK] * 10 + [OK, OK, GAP] * 5)
    assert recovery_seconds(stalling, T0 + 10.0, int(T0) + 25, TARGETS) == 0
    # Nor may a pause delay it: the streak runs through the empty second.
    paused = timeline([OK] * 10 + [SLOW, OK, GAP, GAP, OK, OK, OK])
    assert recovery_seconds(paused, T0 + 10.0, int(T0) + 17, TARGETS) == 1
    # An explicit empty bucket (as a worker may report) is skipped the same way.
    empty = [{"t": int(T0) + 11, "requests": 0, "failures": 0, "http_5xx": 0,
              "http_503_retry_after": 0, "latency_ms": {}}]
    with_empty = sorted(timeline([OK] * 11) + empty + timeline([OK] * 12)[11:], key=lambda b: b["t"])
    assert recovery_seconds(with_empty, T0 + 10.0, int(T0) + 12, TARGETS) == 0
    # A slow second after a pause still counts against the recovery.
    assert recovery_seconds(timeline([OK] * 10 + [OK, GAP, SLOW, OK, OK, OK]), T0 + 10.0,
                            int(T0) + 16, TARGETS) == 3


def test_recovery_boundaries():
    # The second the fault ended in counts; a bad one (requests still inside the fault) moves recovery on.
    assert recovery_seconds(timeline([OK] * 15), T0 + 10.6, int(T0) + 15, TARGETS) == 0
    assert recovery_seconds(timeline([OK] * 10 + [SLOW] + [OK] * 4), T0 + 10.6, int(T0) + 15, TARGETS) == 0.4
    # A streak cut short by the run's end counts when what it has is good; a bad last second does not.
    assert recovery_seconds(timeline([OK] * 10 + [SLOW] * 3 + [OK] * 2), T0 + 10.0, int(T0) + 15, TARGETS) == 3
    assert recovery_seconds(timeline([OK] * 10 + [SLOW] * 4 + [OK, SLOW]), T0 + 10.0, int(T0) + 16, TARGETS) is None
    # Seconds at or beyond `until` (the next fault) are not looked at.
    assert recovery_seconds(timeline([OK] * 10 + [SLOW] * 3 + [OK] * 5), T0 + 10.0, int(T0) + 13, TARGETS) is None
    # No request after the fault at all: recovery was never observed.
    assert recovery_seconds(timeline([OK] * 10), T0 + 10.0, int(T0) + 20, TARGETS) is None
    # An error ratio over target makes a second bad even when it is fast.
    erring = (100, 2, 503, True, 10)
    assert recovery_seconds(timeline([OK] * 10 + [erring] * 2 + [OK] * 5), T0 + 10.0, int(T0) + 17, TARGETS) == 2


def test_lost_writes_always_fail():
    r = report([injection("redis-stall@5s:3s", 5.0, 8.0)], timeline([OK] * 12), lost=["a", "b"], acknowledged=7)
    assert not r.passed and r.writes.lost == 2 and r.writes.acknowledged == 7
    assert any(f.startswith("writes: 2 of 7 acknowledged creates were lost") for f in r.failures)


def test_injection_error_is_reported():
    inj = Injection(parse_fault("redis-stall@5s:3s"), started_at=T0 + 5, error="could not inject: no pid")
    assert report([inj], timeline([OK] * 10)).failures == ["fault redis-stall@5s:3s: could not inject: no pid"]


def test_steady_errors_leave_out_each_fault_and_its_recovery():
    tl = timeline([(100, 1, 500, False, 10)] * 5 + [(50, 50, 503, True, 5)] * 5 + [OK] * 10)
    inj = [injection("postgres-restart@5s:5s", 5.0, 10.0)]
    r = report(inj, tl)
    assert steady_errors(tl, inj, r) == (5, 1500)


def test_verdict_with_a_fault_section_matches_the_schema_and_fails_with_it():
    tl = timeline([OK] * 12)
    fault = report([injection("redis-stall@5s:3s", 5.0, 8.0)], tl, lost=["a"])
    v = Verdict.build(stack="local", host="http://127.0.0.1:1", targets=TARGETS, stats=STATS,
                      decision=Decision(True, []), fault=fault)
    data = json.loads(v.to_json())
    assert_valid_verdict(data)
    assert data["passed"] is False and v.exit_code == 1
    assert set(data["fault"]) == {"passed", "targets", "injected", "writes", "failures"}
    assert data["failures"] == fault.failures


def test_timeline_percentile_and_merge():
    tl = timeline([(10, 0, None, False, 5), (10, 0, None, False, 250)])
    m = merge(tl)
    assert m["requests"] == 20 and percentile(m["latency_ms"], 0.5) == 5 and percentile(m["latency_ms"], 0.95) == 250
    assert percentile({}, 0.95) == 0


def test_every_field_of_an_injected_fault():
    # 5 s of 100 requests at 10 ms, then 5 s with 4 failures a second (two 503s with Retry-After
    # and two 500s in the first of them), then good again.
    tl = timeline([OK] * 5 + [(100, 4, 503, True, 10)] + [(100, 4, 500, False, 10)] * 4 + [OK] * 10)
    r = report([injection("redis-stall@5s:3s", 5.25, 9.5, target="redis-1")], tl)
    f = r.injected[0]
    assert (f.spec, f.kind, f.target, f.at_s, f.for_s) == ("redis-stall@5s:3s", "redis-stall", "redis-1", 5, 3)
    assert f.started_at == "2023-11-14T22:13:25.250Z" and f.ended_at == "2023-11-14T22:13:29.500Z"
    assert (f.started_s, f.ended_s) == (5.25, 9.5)
    assert f.during.model_dump() == {"start_s": 5, "end_s": 10, "requests": 500, "failures": 20,
                                     "error_ratio": 0.04, "http_5xx": 20, "http_503_retry_after": 4,
                                     "p95_ms": 10}
    assert f.after.model_dump() == {"start_s": 10, "end_s": 20, "requests": 1000, "failures": 0,
                                    "error_ratio": 0.0, "http_5xx": 0, "http_503_retry_after": 0,
                                    "p95_ms": 10}
    assert f.recovery_seconds == 0.5  # the fault ended at 9.5; 10, 11, 12 are good
    assert r.targets.model_dump() == {"max_error_ratio": 0.001, "max_recovery_seconds": 5, "max_lost_writes": 0}
    assert r.writes.checked_in == "postgres"


def test_a_window_p95_and_error_ratio_are_its_own():
    slow = (100, 1, 500, False, 300)
    tl = timeline([OK] * 5 + [slow] * 3 + [OK] * 7)
    f = report([injection("redis-stall@5s:3s", 5.0, 8.0)], tl).injected[0]
    assert (f.during.p95_ms, f.during.error_ratio, f.during.failures) == (300, 0.01, 3)
    assert (f.after.p95_ms, f.after.error_ratio) == (10, 0.0)
    assert (f.during.start_s, f.during.end_s, f.after.start_s, f.after.end_s) == (5, 8, 8, 15)


def test_the_after_window_ends_where_the_next_fault_starts():
    tl = timeline([OK] * 30)
    r = report([injection("redis-stall@5s:3s", 5.0, 8.0), injection("redis-stall@15s:3s", 15.6, 18.0)], tl)
    first, second = r.injected
    assert (first.after.start_s, first.after.end_s, first.after.requests) == (8, 15, 700)
    assert (second.during.start_s, second.during.end_s) == (15, 18)
    assert (second.after.start_s, second.after.end_s, second.after.requests) == (18, 30, 1200)


def test_an_injection_never_restored_or_never_started_uses_what_is_known():
    tl = timeline([OK] * 10)
    unrestored = Injection(parse_fault("redis-stall@5s:3s"), started_at=T0 + 5.0, ended_at=None)
    f = report([unrestored], tl).injected[0]
    assert f.ended_at is None and f.ended_s == 5.0 and f.target == "-"
    assert (f.during.start_s, f.during.end_s, f.during.requests) == (5, 5, 0)
    assert f.during.error_ratio == 0.0
    unstarted = Injection(parse_fault("redis-stall@5s:3s"), target="t", started_at=None, ended_at=None)
    f = report([unstarted], tl).injected[0]
    assert f.started_s == 0 and f.started_at == "2023-11-14T22:13:20.000Z"


def test_a_run_without_a_timeline_ends_at_the_load_start():
    r = report([injection("redis-stall@5s:3s", 0.0, 0.0)], [])
    f = r.injected[0]
    assert (f.after.start_s, f.after.end_s, f.after.requests) == (0, 0, 0)
    assert f.recovery_seconds is None and not r.passed


def test_error_ratio_and_recovery_exactly_at_their_targets_pass():
    # FaultTargets(): max_error_ratio 0.001, max_recovery_seconds 5. 1 failure in 1000 is 0.001.
    tl = timeline([OK] * 5 + [(100, 1, 404, False, 10)] + [OK] * 9)
    r = report([injection("redis-stall@5s:3s", 5.0, 8.0)], tl)
    assert r.passed, r.failures
    two = timeline([OK] * 5 + [(100, 2, 404, False, 10)] + [OK] * 9)
    assert any("error ratio 0.0020 (2/1000)" in f and "exceeds target 0.001" in f
               for f in report([injection("redis-stall@5s:3s", 5.0, 8.0)], two).failures)
    slow = (100, 0, None, False, 500)
    tl = timeline([OK] * 5 + [slow] * 8 + [OK] * 8)  # good again from 13 s: 5 s after 8 s
    r = report([injection("redis-stall@5s:3s", 5.0, 8.0)], tl)
    assert r.injected[0].recovery_seconds == 5 and r.passed, r.failures


def test_a_good_second_is_within_both_targets_and_has_requests():
    at_p95 = (100, 1, 404, False, 100)  # p95 exactly 100 ms, 1% errors: both at TARGETS
    assert recovery_seconds(timeline([at_p95] * 3), T0, int(T0) + 3, TARGETS) == 0
    over_errors = (100, 2, 404, False, 10)
    assert recovery_seconds(timeline([over_errors] * 3), T0, int(T0) + 3, TARGETS) is None
    over_p95 = (100, 0, None, False, 110)
    assert recovery_seconds(timeline([over_p95] * 3), T0, int(T0) + 3, TARGETS) is None
    idle = timeline([(0, 0, None, False, 10)] * 3)
    assert idle == [] and recovery_seconds(idle, T0, int(T0) + 3, TARGETS) is None


def test_recovery_near_the_end_of_the_run_needs_only_the_seconds_left():
    slow = (100, 0, None, False, 500)
    tl = timeline([slow] * 8 + [OK] * 2)
    assert recovery_seconds(tl, T0 + 2.0, int(T0) + 10, TARGETS) == 6
    assert recovery_seconds(tl, T0 + 2.0, int(T0) + 9, TARGETS) == 6
    # Three good seconds in a row, the first one partly before the fault's end.
    assert recovery_seconds(timeline([OK] * 5), T0 + 1.7, int(T0) + 5, TARGETS) == 0
    assert recovery_seconds(timeline([slow, slow, OK, OK, OK]), T0 + 0.4, int(T0) + 5, TARGETS) == 1.6


def test_lost_writes_name_three_and_keep_twenty():
    lost = [f"id{i}" for i in range(25)]
    r = report([injection("redis-stall@5s:3s", 5.0, 8.0)], timeline([OK] * 12), lost=lost, acknowledged=40)
    assert r.writes.lost == 25 and r.writes.lost_ids == lost[:20]
    assert "writes: 25 of 40 acknowledged creates were lost (e.g. id0, id1, id2)" in r.failures


def test_an_outage_with_only_honest_503s_but_no_recovery_fails_on_recovery_only():
    tl = timeline([OK] * 5 + [(50, 50, 503, True, 5)] * 10)
    r = report([injection("postgres-restart@5s:5s", 5.0, 10.0)], tl)
    assert r.failures == ["fault postgres-restart@5s:5s: never recovered (error ratio and p95 back under target) "
                          "before the run ended"]


def test_steady_errors_exclude_every_fault_to_the_end_when_it_never_recovered():
    bad = (100, 2, 500, False, 10)  # 2%: over the run's 1% target, so never a good second
    outage = (50, 50, 503, True, 5)
    tl = timeline([bad] * 3 + [outage] * 2 + [bad] * 2 + [outage] * 10)
    inj = [injection("postgres-restart@3s:2s", 3.0, 5.0), injection("postgres-restart@7s:2s", 7.0, 9.0)]
    r = report(inj, tl)
    assert [f.recovery_seconds for f in r.injected] == [None, None]
    # The first fault never recovered (its span runs to the end); only the 3 s before it count.
    assert steady_errors(tl, inj, r) == (6, 300)
    recovered = timeline([bad] * 3 + [outage] * 2 + [OK] * 4 + [bad] * 2)
    inj = [injection("postgres-restart@3s:2s", 3.0, 5.0)]
    r = report(inj, recovered)
    assert r.injected[0].recovery_seconds == 0
    assert steady_errors(recovered, inj, r) == (10, 900)


def test_steady_errors_leave_out_the_recovery_after_the_fault_too():
    bad = (100, 2, 500, False, 10)  # over the 1% target: not yet recovered
    tl = timeline([OK] * 5 + [bad] * 3 + [bad] * 2 + [OK] * 5)
    inj = [injection("redis-stall@5s:3s", 5.0, 8.0)]
    r = report(inj, tl)
    assert r.injected[0].recovery_seconds == 2
    # Seconds 5-9 (the fault, then 2 s of recovery) are the fault's; the other 10 are steady.
    assert steady_errors(tl, inj, r) == (0, 1000)


def test_steady_errors_of_a_fault_never_restored_count_its_recovery_from_its_start():
    bad = (100, 2, 500, False, 10)
    tl = timeline([OK] * 5 + [bad] * 2 + [OK] * 5)
    inj = [Injection(parse_fault("redis-stall@5s:3s"), target="x", started_at=T0 + 5.0, ended_at=None)]
    r = report(inj, tl)
    assert r.injected[0].recovery_seconds == 2
    assert steady_errors(tl, inj, r) == (0, 1000)


def test_window_edges_are_tenths_of_a_second_after_the_load_started_and_ratios_six_decimals():
    mixed = [(3, 1, 500, False, 10)] * 20
    tl = timeline(mixed)
    r = fault_report([injection("redis-stall@5s:3s", 5.0, 8.0)], load_start=T0 + 0.25, timeline=tl, targets=TARGETS,
                     fault_targets=FaultTargets(), acknowledged=0, lost_ids=[], checked_in="api")
    f = r.injected[0]
    assert (f.during.start_s, f.during.end_s, f.after.start_s, f.after.end_s) == (4.8, 7.8, 7.8, 19.8)
    assert f.during.error_ratio == 0.333333 and (f.started_s, f.ended_s) == (4.75, 7.75)


def test_a_window_p95_is_the_95th_percentile_not_the_maximum():
    spread = timeline([OK] * 5 + [(95, 0, None, False, 10)] * 3 + [OK] * 7)
    # 5 slow requests in the fault's window: 15 of 300 (5%) at 500 ms, the rest at 10 ms.
    tl = spread[:5] + [merge([b, timeline([(5, 0, None, False, 500)])[0]]) | {"t": b["t"]} for b in spread[5:8]] + spread[8:]
    f = report([injection("redis-stall@5s:3s", 5.0, 8.0)], tl).injected[0]
    assert f.during.requests == 300 and f.during.p95_ms == 10


def test_each_after_window_ends_at_the_next_fault_of_three():
    tl = timeline([OK] * 40)
    r = report([injection("redis-stall@5s:3s", 5.0, 8.0), injection("redis-stall@15s:3s", 15.0, 18.0),
                injection("redis-stall@25s:3s", 25.0, 28.0)], tl)
    assert [(f.after.start_s, f.after.end_s) for f in r.injected] == [(8, 15), (18, 25), (28, 40)]


def test_a_good_second_is_judged_by_its_p95_not_its_slowest_request():
    mostly_fast = timeline([(96, 0, None, False, 10)] * 3)
    slow_tail = timeline([(4, 0, None, False, 500)] * 3)
    tl = [merge([a, b]) | {"t": a["t"]} for a, b in zip(mostly_fast, slow_tail, strict=True)]
    assert recovery_seconds(tl, T0, int(T0) + 3, TARGETS) == 0


def test_one_request_in_a_second_is_enough_to_judge_it_and_recovery_is_in_tenths():
    tl = timeline([(1, 1, 500, False, 10)] + [(1, 0, None, False, 10)] * 3)
    assert recovery_seconds(tl, T0 + 0.04, int(T0) + 4, TARGETS) == 1.0  # 0.96 s, to a tenth


def test_injection_times_are_kept_to_the_hundredth():
    r = report([injection("redis-stall@5s:3s", 5.1234, 8.5678)], timeline([OK] * 12))
    assert (r.injected[0].started_s, r.injected[0].ended_s) == (5.12, 8.57)


def test_every_fault_adds_its_failures():
    inj = [Injection(parse_fault("redis-stall@5s:1s"), started_at=T0 + 5, error="no pid"),
           Injection(parse_fault("redis-stall@8s:1s"), started_at=T0 + 8, error="no pod")]
    assert report(inj, timeline([OK] * 12)).failures == ["fault redis-stall@5s:1s: no pid",
                                                         "fault redis-stall@8s:1s: no pod"]


def test_an_absorbed_fault_counts_errors_and_5xx_during_and_after_it():
    tl = timeline([OK] * 5 + [(100, 1, 404, False, 10)] * 3 + [(100, 1, 500, False, 10)] * 2 + [OK] * 5)
    r = report([injection("redis-stall@5s:3s", 5.0, 8.0)], tl)
    assert r.failures == [
        "fault redis-stall@5s:3s: error ratio 0.0050 (5/1000) from the fault to the end exceeds target 0.001",
        "fault redis-stall@5s:3s: 2 responses were 5xx; the service must absorb this fault"]


def test_an_absorbed_fault_without_any_request_has_no_error_ratio_to_miss():
    r = report([injection("redis-stall@5s:3s", 5.0, 8.0)], timeline([OK] * 5))
    assert r.failures == ["fault redis-stall@5s:3s: never recovered (error ratio and p95 back under target) "
                          "before the run ended"]


def test_5xx_during_and_after_an_absorbed_fault_add_up():
    tl = timeline([OK] * 5 + [(100, 1, 500, False, 10)] + [OK] * 2 + [(100, 1, 500, False, 10)] + [OK] * 6)
    r = report([injection("redis-stall@5s:3s", 5.0, 8.0)], tl)
    assert "fault redis-stall@5s:3s: 2 responses were 5xx; the service must absorb this fault" in r.failures


def endpoint_timeline(per_second):
    """per_second: list of {endpoint: (requests, latency ms)}."""
    tl = Timeline()
    for i, second in enumerate(per_second):
        for name, (n, ms) in second.items():
            for _ in range(n):
                tl.add(start_time=T0 + i + 0.5, response_time_ms=ms, failed=False, status=200,
                       retry_after=False, endpoint=name)
    return tl.as_list()


def test_latency_outside_the_faults_judges_p95_the_fault_overall_and_per_endpoint():
    fast = {"GET /v1/events": (80, 10), "POST /v1/events": (20, 20)}
    slow = {"GET /v1/events": (80, 400), "POST /v1/events": (20, 900)}
    # 2 slow seconds in 20: the whole run's p95 is 400 ms, over the 100 ms target.
    tl = endpoint_timeline([fast] * 5 + [slow] * 2 + [fast] * 13)
    inj = [injection("redis-all-kill@5s:2s", 5.0, 7.0)]
    r = report(inj, tl)
    assert r.passed and r.injected[0].recovery_seconds == 0
    steady = latency_outside(tl, fault_spans(inj, r))
    assert steady.total.requests == 1800 and steady.total.p95_ms == 20
    assert {n: (e.requests, e.p95_ms) for n, e in steady.endpoints.items()} == {
        "GET /v1/events": (1440, 10), "POST /v1/events": (360, 20)}
    assert steady.total.rps == 100
    whole = RunStats(total=EndpointStats(2000, 0, 10, 400, 900, 100))
    assert not decide(TARGETS, whole).passed
    judged = decide(TARGETS, whole, latency_basis=("outside the faults", steady))
    assert judged.passed, judged.failures


def test_latency_outside_the_faults_still_fails_a_slow_endpoint_outside_the_fault():
    fast = {"GET /v1/events": (95, 10), "POST /v1/events": (5, 10)}
    slow_writes = {"GET /v1/events": (95, 10), "POST /v1/events": (5, 300)}
    tl = endpoint_timeline([slow_writes] * 5 + [fast] * 2 + [slow_writes] * 13)
    inj = [injection("redis-stall@5s:2s", 5.0, 7.0)]
    r = report(inj, tl)
    steady = latency_outside(tl, fault_spans(inj, r))
    whole = RunStats(total=EndpointStats(2000, 0, 10, 10, 300, 100))
    judged = decide(TARGETS, whole, latency_basis=("outside the faults", steady))
    assert judged.failures == ["POST /v1/events: p95 300 ms exceeds target 100 ms (outside the faults)"]


def test_latency_outside_keeps_each_figure_of_the_seconds_left():
    tl = Timeline()
    for i, ms in enumerate([10, 20, 30, 40, 1000]):
        for k in range(30):
            tl.add(start_time=T0 + i + 0.5, response_time_ms=ms + k, failed=k < i, status=500 if k < i else 200,
                   retry_after=False, endpoint="GET /a" if k % 2 else "POST /b")
    # The last second is a fault's. Left: 10-39, 20-49, 30-59 and 40-69 ms, with 0 + 1 + 2 + 3
    # failures; of those 120 requests the 60th is 39 ms, the 114th 63 ms, the 119th 68 ms.
    kept = latency_outside(tl.as_list(), [(T0 + 4, T0 + 5)])
    assert kept.total == EndpointStats(requests=120, failures=6, p50_ms=39, p95_ms=63, p99_ms=68, rps=30.0)
    # The timeline counts failures per second, not per endpoint: an endpoint's are left at 0.
    assert kept.endpoints == {
        "GET /a": EndpointStats(requests=60, failures=0, p50_ms=39, p95_ms=63, p99_ms=69, rps=15.0),
        "POST /b": EndpointStats(requests=60, failures=0, p50_ms=38, p95_ms=62, p99_ms=68, rps=15.0)}
    # Nothing left: no request, and no rate.
    none = latency_outside(tl.as_list(), [(T0, T0 + 5)])
    assert (none.total.requests, none.total.rps, none.endpoints) == (0, 0.0, {})


def test_timeline_keeps_a_histogram_per_endpoint_through_merge():
    tl = Timeline()
    tl.add(start_time=T0, response_time_ms=5, failed=False, status=200, retry_after=False, endpoint="GET /a")
    tl.add(start_time=T0 + 1, response_time_ms=250, failed=False, status=200, retry_after=False, endpoint="GET /a")
    tl.add(start_time=T0 + 1, response_time_ms=7, failed=False, status=200, retry_after=False, endpoint="POST /b")
    tl.add(start_time=T0 + 1, response_time_ms=7, failed=False, status=200, retry_after=False)
    m = merge(tl.as_list())
    assert m["endpoints"] == {"GET /a": {"5": 1, "250": 1}, "POST /b": {"7": 1}}
    assert m["latency_ms"] == {"5": 1, "250": 1, "7": 2}
    # Buckets written before endpoints were kept still merge.
    assert merge([{k: v for k, v in b.items() if k != "endpoints"} for b in tl.as_list()])["endpoints"] == {}


def test_latency_outside_a_warm_up_and_a_fault_judges_only_the_rest():
    fast = {"GET /v1/events": (90, 10), "POST /v1/events": (10, 30)}
    slow = {"GET /v1/events": (90, 600), "POST /v1/events": (10, 900)}
    tl = endpoint_timeline([slow] * 3 + [fast] * 7 + [slow] * 2 + [fast] * 8)
    inj = [injection("redis-all-kill@10s:2s", 10.0, 12.0)]
    spans = [(-math.inf, T0 + 3), *fault_spans(inj, report(inj, tl))]
    judged = latency_outside(tl, spans)
    assert judged.total.requests == 1500 and judged.total.p99_ms == 30
    assert judged.endpoints["POST /v1/events"].p95_ms == 30
    # One second less of warm-up and a slow second is judged again.
    assert latency_outside(tl, [(-math.inf, T0 + 2), *spans[1:]]).total.p95_ms == 600
