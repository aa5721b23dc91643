"""The arrival-rate plan and the generator's keep-up judgement, on synthetic numbers."""

import math

import pytest

from loadline.gate import arrival
from loadline.gate.arrival import GeneratorReport, PlanError, keep_up, plan, shortfall_failure

OK = GeneratorReport(cpu_warning=False, iterations=1000, late_iterations=0)


def test_users_follow_the_rate_and_the_p95_target():
    p = plan(shape="steady", duration_s=30, p95_target_ms=50, rps=1100, processes=2)
    assert p.model == "open" and p.per_user_rps == pytest.approx(5.0)  # 4 x 50 ms interval
    assert p.users == 220 and p.stages == [{"duration": 30, "users": 220, "spawn_rate": 200.0}]
    # 220 users ramp up over 1.1 s (half of that lost), then 28.9 s at 1100 rps.
    assert p.offered_requests() == pytest.approx((1.1 * 220 / 2 + 28.9 * 220) * 5)


@pytest.mark.parametrize("p95_ms, interval", [(1, arrival.MIN_INTERVAL_S), (50, 0.2), (10_000, arrival.MAX_INTERVAL_S)])
def test_pacing_interval_is_bounded(p95_ms, interval):
    assert arrival.pacing_interval(p95_ms) == pytest.approx(interval)


def test_ramp_shape_offers_the_rate_in_steps():
    p = plan(shape="ramp", duration_s=40, p95_target_ms=50, rps=100)
    assert [s["users"] for s in p.stages] == [5, 10, 15, 20]
    assert p.offered_rps() < 100 * 0.7


def test_closed_model_keeps_the_users_and_offers_no_rate():
    p = plan(shape="steady", duration_s=10, p95_target_ms=50, users=40, spawn_rate=20, min_rps=100)
    assert p.model == "closed" and p.users == 40 and p.offered_requests() is None
    assert keep_up(p, 10, OK) is None


def test_too_few_users_for_the_throughput_target_cannot_run():
    with pytest.raises(PlanError, match="too few users: 40 users .* ~267 rps, below the throughput target 1000"):
        plan(shape="steady", duration_s=10, p95_target_ms=50, users=40, spawn_rate=20, min_rps=1000)


def test_more_users_than_the_processes_carry_cannot_run():
    with pytest.raises(PlanError, match="need at least 3 load generator processes .* this run has 2"):
        plan(shape="steady", duration_s=10, p95_target_ms=100, rps=6000, processes=2)


def test_rate_and_users_together_are_refused():
    with pytest.raises(PlanError, match="not both"):
        plan(shape="steady", duration_s=10, p95_target_ms=50, rps=10, users=5, spawn_rate=1)


def _steady(rps=100, seconds=10):
    return plan(shape="steady", duration_s=seconds, p95_target_ms=50, rps=rps)


def test_a_generator_that_kept_up_passes_the_check():
    p = _steady()
    assert keep_up(p, math.ceil(p.offered_requests() * 0.95), OK) is None


def test_a_shortfall_with_a_fast_server_is_the_generators_fault():
    p = _steady()
    reason = keep_up(p, round(p.offered_requests() * 0.9), OK)
    assert reason and "could not keep up" in reason and "90%" in reason
    assert shortfall_failure(p, round(p.offered_requests() * 0.9), OK) is None


def test_a_shortfall_from_late_answers_is_the_servers_failure():
    p = _steady()
    slow = GeneratorReport(cpu_warning=False, iterations=1000, late_iterations=300)
    assert keep_up(p, round(p.offered_requests() * 0.7), slow) is None
    failure = shortfall_failure(p, round(p.offered_requests() * 0.7), slow)
    assert failure and "30% of iterations outlasted the 200 ms pacing interval" in failure


def test_the_users_real_schedule_is_what_was_offered():
    p = _steady()
    # The users lived shorter than planned (started late): 500 iterations were due, 490 sent.
    late_start = GeneratorReport(cpu_warning=False, iterations=490, late_iterations=0, due_iterations=500.0)
    assert keep_up(p, 490, late_start) is None
    behind = GeneratorReport(cpu_warning=False, iterations=400, late_iterations=0, due_iterations=500.0)
    assert "sent 40 of the 50 rps its users were due (80%" in keep_up(p, 400, behind)


def test_due_iterations_follow_the_users_that_ran():
    # No user in the first second, 10 for two seconds, 20 for one: at 5/s each, 200 due.
    history = [{"t": 1.0, "users": 0}, {"t": 2.0, "users": 10}, {"t": 3.0, "users": 10}, {"t": 4.0, "users": 20}]
    assert arrival.due_from_history(history, 5.0) == 200.0
    assert arrival.due_from_history(history, None) == 0.0


def test_a_cpu_warning_means_the_run_did_not_happen():
    p = _steady()
    hot = GeneratorReport(cpu_warning=True, iterations=1000, late_iterations=0)
    assert "ran out of CPU" in keep_up(p, round(p.offered_requests()), hot)


def test_a_fault_run_is_judged_by_its_fault_section_not_by_the_generators_totals():
    p = _steady()
    # A killed worker held a few users for seconds: 20% fewer requests, almost nothing late.
    stalled = GeneratorReport(cpu_warning=False, iterations=400, late_iterations=2, due_iterations=500.0)
    assert keep_up(p, 400, stalled) is not None
    assert keep_up(p, 400, stalled, faulted=True) is None
    hot = GeneratorReport(cpu_warning=True, iterations=400, late_iterations=2, due_iterations=500.0)
    assert "ran out of CPU" in keep_up(p, 400, hot, faulted=True)


def test_due_iterations_weigh_each_sample_by_its_own_step():
    # Steps of 2 s, then 0.5 s: users x rate x the seconds since the previous sample.
    history = [{"t": 2.0, "users": 10}, {"t": 2.5, "users": 4}, {"t": 2.5, "users": 9}, {"t": 2.0, "users": 50}]
    # 10 users over the first 2 s (from 0), 4 over 0.5 s, nothing for a repeated or earlier t.
    assert arrival.due_from_history(history, 5.0) == 10 * 5 * 2 + 4 * 5 * 0.5


def test_a_cpu_warning_names_the_remedy():
    hot = GeneratorReport(cpu_warning=True, iterations=1000, late_iterations=0)
    assert keep_up(_steady(), 0, hot) == (
        "the load generator ran out of CPU (Locust's warning above 90 %): its timings are not "
        "trustworthy; run more worker processes (--workers N) or on a larger machine")


def test_a_generator_that_fell_behind_says_by_how_much_and_what_to_do():
    p = _steady()
    behind = GeneratorReport(cpu_warning=False, iterations=400, late_iterations=0, due_iterations=500.0)
    assert keep_up(p, 400, behind) == (
        "the load generator sent 40 of the 50 rps its users were due (80%, below 95%) while the server "
        "answered within the pacing interval: the generator could not keep up; run more worker "
        "processes (--workers N) or a lower load.rps")


def test_keep_up_and_shortfall_boundaries():
    p = _steady()
    due = 1000.0
    # Exactly 95% delivered is keeping up; exactly 5% late iterations is still the generator's doing.
    at_ratio = GeneratorReport(cpu_warning=False, iterations=950, late_iterations=0, due_iterations=due)
    assert keep_up(p, 950, at_ratio) is None and shortfall_failure(p, 950, at_ratio) is None
    at_late = GeneratorReport(cpu_warning=False, iterations=1000, late_iterations=50, due_iterations=due)
    assert keep_up(p, 900, at_late) is not None
    assert shortfall_failure(p, 900, at_late) is None
    over_late = GeneratorReport(cpu_warning=False, iterations=1000, late_iterations=51, due_iterations=due)
    assert keep_up(p, 900, over_late) is None
    assert shortfall_failure(p, 900, over_late) == (
        "overall: the server held back the load: 5% of iterations outlasted the 200 ms pacing interval, "
        "so only 90% of the offered requests were sent; latencies above are a lower bound")
    over_late_at_ratio = GeneratorReport(cpu_warning=False, iterations=1000, late_iterations=51, due_iterations=due)
    assert shortfall_failure(p, 950, over_late_at_ratio) is None


def test_a_pacing_interval_in_the_failure_is_rounded_milliseconds():
    p = plan(shape="steady", duration_s=10, p95_target_ms=2.5, rps=100)  # 4 x 2.5 ms is under the 50 ms floor
    slow = GeneratorReport(cpu_warning=False, iterations=1000, late_iterations=300, due_iterations=1000.0)
    assert "outlasted the 50 ms pacing interval" in shortfall_failure(p, 10, slow)
    p = plan(shape="steady", duration_s=10, p95_target_ms=250.2, rps=100)  # 1000.8 ms, capped at 1 s
    assert "outlasted the 1000 ms pacing interval" in shortfall_failure(p, 10, slow)


def test_nothing_due_is_nothing_to_judge():
    closed = plan(shape="steady", duration_s=10, p95_target_ms=50, users=40, spawn_rate=20)
    slow = GeneratorReport(cpu_warning=False, iterations=1000, late_iterations=300)
    assert shortfall_failure(closed, 0, slow) is None and keep_up(closed, 0, OK) is None
    # Due less than one iteration (a run cut short): too little to call a shortfall.
    p = _steady()
    tiny = GeneratorReport(cpu_warning=False, iterations=1, late_iterations=1, due_iterations=0.5)
    assert "0 of the 0 rps" in keep_up(p, 0, GeneratorReport(False, 1, 0, due_iterations=0.5))
    assert shortfall_failure(p, 0, tiny).startswith("overall: the server held back the load: 100%")


def test_the_plan_as_a_dict_holds_every_field():
    p = _steady()
    assert p.as_dict() == {"model": "open", "users": p.users, "target_rps": 100.0, "per_user_rps": 5.0,
                           "stages": p.stages}


def test_users_per_process_up_to_the_limit_and_the_message_beyond():
    # 0.2 s interval: 5000 rps needs 1000 users, what one process carries.
    assert plan(shape="steady", duration_s=10, p95_target_ms=50, rps=5000).users == 1000
    with pytest.raises(PlanError) as err:
        plan(shape="steady", duration_s=10, p95_target_ms=50, rps=5001)
    assert str(err.value) == ("1001 users need at least 2 load generator processes (1000 users each); "
                              "this run has 1 (--workers N)")
    assert plan(shape="steady", duration_s=10, p95_target_ms=50, users=2000, spawn_rate=10, processes=2).users == 2000
    with pytest.raises(PlanError, match="^2001 users need at least 3 load generator processes"):
        plan(shape="steady", duration_s=10, p95_target_ms=50, users=2001, spawn_rate=10, processes=2)


def test_the_spawn_rate_is_capped_per_process_and_at_least_one_user_runs():
    p = plan(shape="steady", duration_s=10, p95_target_ms=50, rps=0.1)
    assert p.users == 1 and p.stages[0]["spawn_rate"] == 1.0 and p.target_rps == 0.1
    assert plan(shape="steady", duration_s=10, p95_target_ms=50, rps=100).stages[0]["spawn_rate"] == 20.0
    assert plan(shape="steady", duration_s=10, p95_target_ms=50, rps=1500, processes=3).stages[0]["spawn_rate"] == 300
    assert plan(shape="steady", duration_s=10, p95_target_ms=50, rps=1500, processes=2).stages[0]["spawn_rate"] == 200


def test_closed_users_exactly_at_the_throughput_target_can_run_and_the_message_below():
    # 15 users waiting 150 ms on average offer at most 100 rps.
    assert plan(shape="steady", duration_s=10, p95_target_ms=50, users=15, spawn_rate=5, min_rps=100).users == 15
    with pytest.raises(PlanError) as err:
        plan(shape="steady", duration_s=10, p95_target_ms=50, users=15, spawn_rate=5, min_rps=100.5)
    assert str(err.value) == ("too few users: 15 users waiting 50-250 ms between requests offer at most ~100 rps, "
                              "below the throughput target 100.5 rps; set load.rps (an arrival rate) or more users")
    p = plan(shape="steady", duration_s=10, p95_target_ms=50, users=15, spawn_rate=5)
    assert (p.target_rps, p.per_user_rps, p.stages) == (None, None, [{"duration": 10, "users": 15, "spawn_rate": 5}])


def test_neither_a_rate_nor_users_is_refused_too():
    with pytest.raises(PlanError, match="^give either a target rate"):
        plan(shape="steady", duration_s=10, p95_target_ms=50)


def test_offered_requests_count_ramps_down_as_well_as_up():
    p = arrival.ArrivalPlan("open", 10, 10.0, 2.0, [{"duration": 10, "users": 10, "spawn_rate": 5},
                                                    {"duration": 20, "users": 4, "spawn_rate": 2}])
    # 0-2 s: 0 -> 10 users (10 user-s), 2-10 s: 10 users (80); 10-13 s: 10 -> 4 (21), 13-20 s: 4 (28).
    assert p.offered_requests() == pytest.approx((10 + 80 + 21 + 28) * 2.0)
    assert p.offered_rps() == pytest.approx(139 * 2.0 / 20)
    assert p.duration_s == 20
    closed = arrival.ArrivalPlan("closed", 10, None, None, [{"duration": 10, "users": 10, "spawn_rate": 5}])
    assert closed.offered_rps() is None


def test_a_ramp_longer_than_its_stage_never_reaches_the_target():
    p = arrival.ArrivalPlan("open", 10, 10.0, 1.0, [{"duration": 2, "users": 10, "spawn_rate": 1}])
    # 2 s at 1 user/s: from 0 to 10 users, counted as a 2 s ramp to the target (10 user-s).
    assert p.offered_requests() == pytest.approx(10.0)


def test_a_plan_that_offers_nothing_is_not_judged():
    idle = arrival.ArrivalPlan("open", 0, 0.0, 5.0, [{"duration": 10, "users": 0, "spawn_rate": 1}])
    assert idle.offered_requests() == 0
    slow = GeneratorReport(cpu_warning=False, iterations=10, late_iterations=10)
    assert keep_up(idle, 0, OK) is None and shortfall_failure(idle, 0, slow) is None
