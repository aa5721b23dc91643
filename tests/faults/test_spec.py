"""--fault SPEC: every part is checked, and a bad part is named."""

import pytest

from loadline.faults.spec import KINDS, FaultSpecError, parse_fault, parse_faults


@pytest.mark.parametrize("text, kind, at_s, for_s", [
    ("redis-primary-kill@20s", "redis-primary-kill", 20, KINDS["redis-primary-kill"].default_for_s),
    ("redis-all-kill@20s", "redis-all-kill", 20, 10),
    ("redis-stall@20s:3s", "redis-stall", 20, 3),
    ("postgres-restart@20s:5s", "postgres-restart", 20, 5),
    ("api-worker-kill@1m", "api-worker-kill", 60, 5),
    ("redis-stall@1.5s:500ms", "redis-stall", 1.5, 0.5),
    (" postgres-restart@0s:1m ", "postgres-restart", 0, 60),
])
def test_valid_specs(text, kind, at_s, for_s):
    spec = parse_fault(text)
    assert (spec.kind.name, spec.at_s, spec.for_s) == (kind, at_s, for_s)
    assert spec.end_s == at_s + for_s


@pytest.mark.parametrize("text, message", [
    ("redis-primary-kill", "missing '@AT'"),
    ("redis-primry-kill@20s", "unknown fault 'redis-primry-kill'"),
    ("@20s", "unknown fault ''"),
    ("redis-stall@soon", "AT 'soon' is not a duration"),
    ("redis-stall@20", "AT '20' is not a duration"),
    ("redis-stall@-5s", "AT '-5s'"),
    ("redis-stall@20s:", "FOR '' is not a duration"),
    ("redis-stall@20s:3x", "FOR '3x' is not a duration"),
    ("redis-stall@20s\n:3s", "AT '20s\n' is not a duration"),  # a newline inside the spec is not stripped
    ("redis-stall@20s:0s", "FOR '0s' must be longer than 0"),
])
def test_bad_specs_name_the_part(text, message):
    with pytest.raises(FaultSpecError, match="--fault") as err:
        parse_fault(text)
    assert message in str(err.value)


def test_fault_must_end_before_the_load():
    assert [s.text for s in parse_faults(["postgres-restart@20s:5s"], run_s=30)] == ["postgres-restart@20s:5s"]
    with pytest.raises(FaultSpecError, match=r"ends at 30s but the load lasts 30s"):
        parse_faults(["postgres-restart@25s:5s"], run_s=30)


def test_faults_run_one_at_a_time_in_time_order():
    specs = parse_faults(["postgres-restart@20s:5s", "redis-stall@5s:3s"], run_s=60)
    assert [s.kind.name for s in specs] == ["redis-stall", "postgres-restart"]
    with pytest.raises(FaultSpecError, match=r"'redis-all-kill@22s': starts at 22s, inside 'postgres-restart@20s:5s'"):
        parse_faults(["postgres-restart@20s:5s", "redis-all-kill@22s"], run_s=60)
    assert parse_faults([], run_s=10) == []


def test_a_fault_may_end_just_before_the_load_and_the_message_says_what_to_do():
    assert [s.end_s for s in parse_faults(["postgres-restart@20s:5s"], run_s=25.5)] == [25]
    with pytest.raises(FaultSpecError) as err:
        parse_faults(["postgres-restart@20s:5s"], run_s=25)
    assert str(err.value) == ("--fault 'postgres-restart@20s:5s': ends at 25s but the load lasts 25s; leave time "
                              "after the fault to judge recovery (or raise --duration)")


def test_a_fault_may_start_where_the_previous_one_ends():
    specs = parse_faults(["redis-stall@10s:5s", "redis-stall@5s:5s", "redis-stall@15s:1s"], run_s=60)
    assert [(s.at_s, s.end_s) for s in specs] == [(5, 10), (10, 15), (15, 16)]
    with pytest.raises(FaultSpecError) as err:
        parse_faults(["redis-stall@10s:5s", "redis-stall@5s:6s"], run_s=60)
    assert str(err.value) == ("--fault 'redis-stall@10s:5s': starts at 10s, inside 'redis-stall@5s:6s' "
                              "(which lasts until 11s); faults run one at a time")
    # Only neighbours in time order are compared: the third overlaps the second, not the first.
    with pytest.raises(FaultSpecError, match="'redis-stall@12s:1s': starts at 12s, inside 'redis-stall@10s:5s'"):
        parse_faults(["redis-stall@5s:1s", "redis-stall@10s:5s", "redis-stall@12s:1s"], run_s=60)


def test_bad_parts_of_a_spec_are_named_with_the_whole_spec():
    with pytest.raises(FaultSpecError) as err:
        parse_fault("redis-stall@5s@3s")
    assert str(err.value) == ("--fault 'redis-stall@5s@3s': AT '5s@3s' is not a duration like 20s, 1.5s, 500ms "
                              "or 1m")
    with pytest.raises(FaultSpecError) as err:
        parse_fault("redis-stall@5s:soon")
    assert str(err.value) == ("--fault 'redis-stall@5s:soon': FOR 'soon' is not a duration like 20s, 1.5s, 500ms "
                              "or 1m")
    with pytest.raises(FaultSpecError) as err:
        parse_fault("disk-fill@5s")
    assert str(err.value) == f"--fault 'disk-fill@5s': unknown fault 'disk-fill' (known: {', '.join(KINDS)})"
    assert ", ".join(KINDS).count(", ") == len(KINDS) - 1 >= 1
