from datetime import UTC, datetime, timedelta

import pytest

from loadline.envs.errors import EnvError
from loadline.envs.gc import select_expired
from loadline.envs.registry import EnvRecord, Registry

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def rec(name, expires_in, finished=True, **kw):
    return EnvRecord(name=name, from_stack="dev", owner="jane", created=NOW - timedelta(hours=1),
                     expires=NOW + expires_in, backend="file:///tmp/state", finished=finished, **kw)


def test_gc_selects_expired_oldest_first_including_interrupted():
    records = [
        rec("fresh", timedelta(hours=3)),
        rec("late", timedelta(hours=-1)),
        rec("just-now", timedelta(0)),
        rec("broken", timedelta(hours=-5), finished=False),
        rec("soon", timedelta(seconds=1)),
    ]
    assert [r.name for r in select_expired(records, NOW)] == ["broken", "late", "just-now"]
    assert select_expired(records, NOW - timedelta(days=1)) == []
    assert len(select_expired(records, NOW + timedelta(days=1))) == 5


def test_state():
    assert rec("a", timedelta(hours=1)).state(NOW) == "ready"
    assert rec("a", timedelta(hours=-1)).state(NOW) == "expired"
    assert rec("a", timedelta(hours=1), finished=False).state(NOW) == "interrupted"


def test_registry_round_trip(tmp_path):
    reg = Registry(tmp_path / "envs")
    assert reg.all() == [] and reg.get("pr-1") is None
    a = rec("pr-1", timedelta(hours=1), last_verdict="missed", verdict_at=NOW, report_dir="/r")
    b = rec("pr-2", timedelta(hours=2), finished=False)
    reg.save(b)
    reg.save(a)
    assert reg.get("pr-1") == a
    assert {r.name for r in reg.all()} == {"pr-1", "pr-2"}
    reg.remove("pr-2")
    assert [r.name for r in reg.all()] == ["pr-1"]
    assert [p.name for p in (tmp_path / "envs").iterdir()] == ["pr-1.json"]


def test_registry_refuses_bad_names(tmp_path):
    with pytest.raises(EnvError, match="not a DNS-1123 label"):
        Registry(tmp_path).get("../etc")


def test_corrupt_record_names_the_file(tmp_path):
    (tmp_path / "pr-1.json").write_text("{not json")
    with pytest.raises(EnvError, match=r"pr-1.json is unreadable.*fix or delete it"):
        Registry(tmp_path).get("pr-1")


def test_claim_is_first_come(tmp_path):
    reg = Registry(tmp_path)
    reg.claim(rec("pr-1", timedelta(hours=1)))
    with pytest.raises(EnvError, match="env 'pr-1' already exists"):
        reg.claim(rec("pr-1", timedelta(hours=2)))
    assert reg.get("pr-1").expires == NOW + timedelta(hours=1)
