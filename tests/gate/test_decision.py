"""The gate's decision on synthetic statistics, at each target's boundary (equal meets it)."""

import pytest

from loadline.gate.decision import EndpointStats, RunStats, Targets, decide
from loadline.profile import load_profile

TARGETS = Targets(p95_ms=200, p99_ms=400, min_rps=50, max_error_ratio=0.01)


def stats(*, p95=100.0, p99=150.0, rps=100.0, requests=1000, failures=0, endpoints=None):
    total = EndpointStats(requests=requests, failures=failures, p50_ms=10, p95_ms=p95, p99_ms=p99, rps=rps)
    return RunStats(total=total, endpoints=endpoints if endpoints is not None else {"GET /x": total})


def ep(p95=100.0, p99=150.0):
    return EndpointStats(requests=100, failures=0, p50_ms=10, p95_ms=p95, p99_ms=p99, rps=10)


def test_all_met_passes_without_failures():
    d = decide(TARGETS, stats())
    assert d.passed and d.failures == []


@pytest.mark.parametrize("p95, passed", [(199, True), (200, True), (201, False)])
def test_p95_boundary_overall(p95, passed):
    d = decide(TARGETS, stats(p95=p95, endpoints={}))
    assert d.passed is passed
    if not passed:
        assert d.failures == ["overall: p95 201 ms exceeds target 200 ms"]


@pytest.mark.parametrize("p99, passed", [(400, True), (401, False)])
def test_p99_boundary_overall(p99, passed):
    d = decide(TARGETS, stats(p99=p99, endpoints={}))
    assert d.passed is passed
    assert any("p99 401 ms" in f for f in d.failures) is (not passed)


def test_p99_not_judged_when_unset():
    targets = Targets(p95_ms=200, p99_ms=None, min_rps=50, max_error_ratio=0.01)
    assert decide(targets, stats(p99=60000, endpoints={})).passed


@pytest.mark.parametrize("p95, p99, passed", [(200, 400, True), (200.5, 100, False), (150, 400.5, False)])
def test_latency_boundary_per_endpoint_even_when_overall_meets(p95, p99, passed):
    d = decide(TARGETS, stats(endpoints={"GET /fast": ep(), "GET /slow": ep(p95=p95, p99=p99)}))
    assert d.passed is passed
    assert all(f.startswith("GET /slow:") for f in d.failures)


@pytest.mark.parametrize("rps, passed", [(50.0, True), (49.99, False)])
def test_min_rps_boundary(rps, passed):
    d = decide(TARGETS, stats(rps=rps))
    assert d.passed is passed
    if not passed:
        assert d.failures == ["overall: throughput 49.99 rps is below target 50 rps"]


@pytest.mark.parametrize("failures, passed", [(10, True), (11, False)])
def test_error_ratio_boundary(failures, passed):
    d = decide(TARGETS, stats(requests=1000, failures=failures))
    assert d.passed is passed
    assert any("error ratio 0.0110 (11/1000)" in f for f in d.failures) is (not passed)


def test_zero_max_error_ratio_refuses_a_single_failure():
    targets = Targets(p95_ms=200, min_rps=0, max_error_ratio=0)
    assert decide(targets, stats(failures=0)).passed
    assert not decide(targets, stats(failures=1)).passed


def test_no_requests_is_a_miss_not_a_pass():
    targets = Targets(p95_ms=200, min_rps=0, max_error_ratio=1)
    d = decide(targets, stats(requests=0, rps=0, p95=0, p99=0))
    assert d.passed is False
    assert d.failures == ["overall: no request completed, nothing to judge"]


def test_every_miss_is_described():
    d = decide(TARGETS, stats(p95=300, p99=500, rps=10, failures=500,
                              endpoints={"GET /a": ep(p95=300)}))
    assert len(d.failures) == 5


def test_overrides_replace_profile_values_only_when_given():
    slo = load_profile("local").slo
    t = Targets.from_slo(slo, p95_ms=0.001)
    assert t.p95_ms == 0.001
    assert (t.min_rps, t.max_error_ratio, t.p99_ms) == (slo.min_rps, slo.max_error_ratio, slo.p99_ms)


@pytest.mark.parametrize("field, value", [("p95_ms", 7.5), ("p99_ms", 9.5), ("min_rps", 3.25),
                                          ("max_error_ratio", 0.125)])
def test_each_override_replaces_its_own_target_only(field, value):
    slo = load_profile("local").slo
    expected = {"p95_ms": slo.p95_ms, "p99_ms": slo.p99_ms, "min_rps": slo.min_rps,
                "max_error_ratio": slo.max_error_ratio, field: value}
    assert Targets.from_slo(slo, **{field: value}).as_dict() == expected


def test_no_override_keeps_the_profile():
    slo = load_profile("local").slo
    assert Targets.from_slo(slo) == Targets(p95_ms=slo.p95_ms, p99_ms=slo.p99_ms, min_rps=slo.min_rps,
                                            max_error_ratio=slo.max_error_ratio)


def test_a_zero_override_is_a_value_not_a_missing_one():
    slo = load_profile("local").slo
    t = Targets.from_slo(slo, min_rps=0, max_error_ratio=0)
    assert (t.min_rps, t.max_error_ratio) == (0, 0)


def test_endpoint_stats_as_dict_rounds_for_the_verdict():
    s = EndpointStats(requests=3, failures=1, p50_ms=1.5, p95_ms=2.5, p99_ms=3.5, rps=12.3456)
    assert s.as_dict() == {"requests": 3, "failures": 1, "p50_ms": 1.5, "p95_ms": 2.5, "p99_ms": 3.5,
                           "rps": 12.35, "error_ratio": 0.333333}


def test_error_ratio_of_no_requests_is_zero():
    assert EndpointStats(requests=0, failures=0, p50_ms=0, p95_ms=0, p99_ms=0, rps=0).error_ratio == 0.0


def test_every_miss_is_described_in_order():
    d = decide(TARGETS, stats(p95=300, p99=500, rps=10, failures=500, endpoints={"GET /a": ep(p95=300)}))
    assert d.passed is False
    assert d.failures == [
        "overall: p95 300 ms exceeds target 200 ms",
        "overall: p99 500 ms exceeds target 400 ms",
        "GET /a: p95 300 ms exceeds target 200 ms",
        "overall: throughput 10.00 rps is below target 50 rps",
        "overall: error ratio 0.5000 (500/1000) exceeds target 0.01",
    ]


def test_a_judged_part_without_requests_has_no_error_ratio_to_miss():
    # Every second of the run inside a fault and its recovery: the run's own error target has nothing to judge.
    d = decide(TARGETS, stats(), error_basis=("outside the faults", 0, 0))
    assert d.passed and d.failures == []


def test_a_latency_miss_names_the_judged_part_last_overall_and_per_endpoint():
    judged = stats(p95=300, p99=500, endpoints={"GET /a": ep(p95=300)})
    d = decide(TARGETS, stats(), latency_basis=("outside the faults", judged))
    assert d.failures == ["overall: p95 300 ms exceeds target 200 ms (outside the faults)",
                          "overall: p99 500 ms exceeds target 400 ms (outside the faults)",
                          "GET /a: p95 300 ms exceeds target 200 ms (outside the faults)"]
