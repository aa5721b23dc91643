import pytest

from loadtests.stages import SHAPES, stages, total_duration


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_every_shape_ends_at_duration_and_peaks_at_users(shape):
    s = stages(shape, users=30, spawn_rate=5, duration_s=60)
    assert total_duration(s) == 60
    assert max(st["users"] for st in s) == 30
    assert [st["duration"] for st in s] == sorted(st["duration"] for st in s)


def test_ramp_climbs_in_quarters():
    assert [st["users"] for st in stages("ramp", users=20, spawn_rate=5, duration_s=40)] == [5, 10, 15, 20]


def test_spike_bursts_in_the_middle_at_once():
    s = stages("spike", users=30, spawn_rate=2, duration_s=100)
    assert [(st["duration"], st["users"]) for st in s] == [(40, 10), (60, 30), (100, 10)]
    assert s[1]["spawn_rate"] >= 30


def test_unknown_shape_is_refused_by_name():
    with pytest.raises(ValueError, match="unknown load shape 'burst'"):
        stages("burst", users=1, spawn_rate=1, duration_s=1)
