"""Constant pacing: the wait fills each interval; an iteration that outlasts it is counted late."""

import pytest

from loadtests.pacing import Pacer


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_wait_fills_the_interval_and_late_iterations_are_counted():
    clock = Clock()
    pacer = Pacer(5.0, clock)  # one request every 200 ms
    clock.now = 100.05
    assert pacer.wait(100.0) == pytest.approx(0.15)
    clock.now = 100.5
    assert pacer.wait(100.2) == 0.0  # took 300 ms: late, the next one starts at once
    clock.now = 110.0
    pacer.user_stopped(100.0)  # 10 s alive at 5/s: 50 iterations were due
    assert pacer.take_counts() == (2, 1, pytest.approx(50.0))
    assert pacer.take_counts() == (0, 0, 0.0)


def test_first_delay_spreads_users_over_one_interval():
    pacer = Pacer(10.0)
    delays = [pacer.first_delay() for _ in range(200)]
    assert all(0 <= d <= 0.1 for d in delays) and max(delays) - min(delays) > 0.05


def test_rate_must_be_positive():
    with pytest.raises(ValueError, match="must be > 0"):
        Pacer(0)
