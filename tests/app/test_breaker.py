"""The Redis circuit breaker's state machine at its exact boundaries (a hand-moved clock)."""

from __future__ import annotations

import pytest

from app.breaker import CLOSED, HALF_OPEN, OPEN, Breaker


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(threshold=3, base_s=1.0, cap_s=8.0, rand=1.0):
    """rand=1.0: the jitter draws its maximum, so the open period is exactly the backoff."""
    clock, states, trips = Clock(), [], []
    b = Breaker(threshold=threshold, base_s=base_s, cap_s=cap_s, clock=clock, rand=lambda: rand,
                on_state=states.append, on_trip=lambda: trips.append(clock.now))
    return b, clock, states, trips


def fail(b: Breaker, n: int) -> None:
    for _ in range(n):
        assert b.allow()
        b.failure()


def test_threshold_minus_one_failures_keep_it_closed_the_threshold_opens_it():
    b, _, states, trips = make(threshold=3)
    fail(b, 2)
    assert b.state == CLOSED and trips == []
    fail(b, 1)
    assert b.state == OPEN and len(trips) == 1
    assert states == [CLOSED, OPEN]
    assert not b.allow()


def test_a_success_resets_the_count_of_failures_in_a_row():
    b, _, _, _ = make(threshold=3)
    fail(b, 2)
    b.success()
    fail(b, 2)
    assert b.state == CLOSED
    fail(b, 1)
    assert b.state == OPEN


def test_open_until_the_backoff_then_one_probe_only():
    b, clock, states, _ = make(threshold=1, base_s=1.0)
    fail(b, 1)
    clock.now += 0.999
    assert not b.allow() and b.state == OPEN
    clock.now += 0.001
    assert b.allow() and b.state == HALF_OPEN  # this caller is the probe
    assert not b.allow()  # the others still skip Redis while it runs
    assert states == [CLOSED, OPEN, HALF_OPEN]


def test_half_open_success_closes_and_resets_the_backoff():
    b, clock, states, _ = make(threshold=1, base_s=1.0)
    fail(b, 1)
    clock.now += 1.0
    assert b.allow()
    b.success()
    assert b.state == CLOSED and states[-1] == CLOSED and b.trips == 0
    fail(b, 1)
    assert b.retry_in_s() == pytest.approx(1.0)  # back to the first step, not the next one


def test_half_open_failure_reopens_for_twice_as_long():
    b, clock, _, trips = make(threshold=1, base_s=1.0)
    fail(b, 1)
    clock.now += 1.0
    assert b.allow()
    b.failure()
    assert b.state == OPEN and len(trips) == 2
    assert b.retry_in_s() == pytest.approx(2.0)
    clock.now += 1.999
    assert not b.allow()
    clock.now += 0.001
    assert b.allow() and b.state == HALF_OPEN


def test_backoff_doubles_up_to_the_cap_and_stays_there():
    b, clock, _, _ = make(threshold=1, base_s=1.0, cap_s=5.0)
    periods = []
    fail(b, 1)
    for _ in range(6):
        periods.append(round(b.retry_in_s(), 6))
        clock.now = b.retry_at
        assert b.allow()
        b.failure()
    assert periods == [1.0, 2.0, 4.0, 5.0, 5.0, 5.0]
    assert b.backoff_s(3) == 4.0 and b.backoff_s(4) == 5.0 and b.backoff_s(10_000) == 5.0


@pytest.mark.parametrize(("rand", "expected"), [(0.0, 2.0), (0.5, 3.0), (1.0, 4.0)])
def test_jitter_draws_between_half_and_all_of_the_backoff(rand, expected):
    b, clock, _, _ = make(threshold=1, base_s=1.0, cap_s=8.0, rand=rand)
    fail(b, 1)
    clock.now = b.retry_at
    assert b.allow()
    b.failure()
    clock.now = b.retry_at
    assert b.allow()
    b.failure()  # third open in a row: backoff 4 s
    assert b.retry_in_s() == pytest.approx(expected)


def test_a_lost_probe_is_replaced_after_the_base_period():
    b, clock, _, _ = make(threshold=1, base_s=1.0)
    fail(b, 1)
    clock.now += 1.0
    assert b.allow()  # a probe that never reports (its request was cancelled)
    clock.now += 0.999
    assert not b.allow()
    clock.now += 0.001
    assert b.allow() and b.state == HALF_OPEN


def test_late_outcomes_of_calls_started_before_the_trip_do_not_move_it():
    b, _, _, trips = make(threshold=2)
    assert b.allow() and b.allow()
    b.failure()
    b.failure()
    assert b.state == OPEN
    b.success()  # a slow call that started while closed
    b.failure()
    assert b.state == OPEN and len(trips) == 1


def test_zero_base_retries_at_once():
    b, _, _, _ = make(threshold=1, base_s=0.0, cap_s=0.0)
    fail(b, 1)
    assert b.state == OPEN and b.allow() and b.state == HALF_OPEN


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"threshold": 0, "base_s": 1, "cap_s": 1}, "threshold"),
    ({"threshold": 1, "base_s": 2, "cap_s": 1}, "cap_s"),
    ({"threshold": 1, "base_s": -1, "cap_s": 1}, "base_s"),
])
def test_refuses_settings_that_make_no_sense(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Breaker(**kwargs)


def test_an_open_breaker_counts_failures_afresh_and_its_wait_never_goes_below_zero():
    b, clock, _, _ = make(threshold=3, base_s=1.0, cap_s=8.0)
    fail(b, 3)
    assert b.state == OPEN and b.failures == 0
    assert b.retry_in_s() == 1.0
    clock.now += 0.25
    assert b.retry_in_s() == 0.75
    clock.now += 5.0
    assert b.retry_in_s() == 0.0


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"threshold": 0, "base_s": 1.0, "cap_s": 8.0}, "threshold: at least 1"),
    ({"threshold": 1, "base_s": 9.0, "cap_s": 8.0}, "base_s and cap_s: need 0 <= base_s <= cap_s"),
    ({"threshold": 1, "base_s": -1.0, "cap_s": 8.0}, "base_s and cap_s: need 0 <= base_s <= cap_s"),
])
def test_bad_settings_are_refused_naming_them(kwargs, message):
    with pytest.raises(ValueError) as err:
        Breaker(**kwargs)
    assert str(err.value) == message


def test_a_new_breaker_has_nothing_to_wait_for_even_at_time_zero():
    b = Breaker(threshold=1, base_s=1.0, cap_s=8.0, clock=lambda: 0.0)
    assert b.retry_in_s() == 0.0
