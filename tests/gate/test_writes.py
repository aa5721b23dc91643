"""Acknowledged writes are read back from the real PostgreSQL; a missing one is counted as lost."""

import asyncio
import uuid

import pytest

from app.migrations import migrate
from loadline.gate.writes import WriteCheckError, acknowledged_ids, lost_in_postgres, lost_via_api


@pytest.fixture(scope="module")
def db_url(postgres):
    asyncio.run(migrate(postgres.url, wait_s=30))
    return postgres.url


def _insert(postgres) -> str:
    return postgres.psql(
        "INSERT INTO events (title, venue, starts_at, ends_at, capacity) VALUES "
        "('kept', 'Hall A', now(), now() + interval '1 hour', 10) RETURNING id").strip()


def test_missing_ids_are_lost_and_stored_ones_are_not(db_url, postgres):
    kept = [_insert(postgres) for _ in range(3)]
    gone = str(uuid.uuid4())
    assert lost_in_postgres([*kept, gone], db_url) == [gone]
    assert lost_in_postgres(kept, db_url) == []
    assert lost_in_postgres([], db_url) == []


def test_ids_file_is_read_once_per_id(tmp_path):
    path = tmp_path / "created-ids.txt"
    path.write_text("a\nb\n\na\nc\n")
    assert acknowledged_ids(path) == ["a", "b", "c"]
    assert acknowledged_ids(tmp_path / "none.txt") == []


def test_unreachable_database_is_an_error_not_zero_lost(monkeypatch):
    from loadline.gate import writes
    from loadline.services import free_port

    monkeypatch.setattr(writes, "CONNECT_WAIT_S", 1)
    with pytest.raises(WriteCheckError, match="PostgreSQL unreachable"):
        lost_in_postgres([str(uuid.uuid4())], f"postgresql://u:p@127.0.0.1:{free_port()}/db")
    with pytest.raises(WriteCheckError, match="kept failing"):
        lost_via_api(["x"], f"http://127.0.0.1:{free_port()}", attempts=1)
