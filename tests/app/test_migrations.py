"""`python -m app migrate`: waits for the database, applies once, is a no-op the second time."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

from loadline.services import free_port


def _migrate(url: str, wait_s: str = "30"):
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVENTS_")}
    env.update(EVENTS_ENVIRONMENT="development", EVENTS_DATABASE_URL=url, EVENTS_MIGRATE_WAIT_SECONDS=wait_s)
    return subprocess.run([sys.executable, "-m", "app", "migrate"], env=env, capture_output=True, text=True,
                          timeout=120)


def test_second_run_applies_nothing(database_url, postgres):
    res = _migrate(database_url)
    assert res.returncode == 0, res.stderr
    assert "applied nothing" in res.stdout
    assert postgres.psql("SELECT count(*) FROM schema_migrations").strip() == "2"


def test_waits_for_a_database_that_starts_later(database_url, postgres, outage):
    outage.stop(postgres)
    timer = threading.Timer(2.0, outage.restart, args=[postgres])
    timer.start()
    try:
        res = _migrate(database_url, wait_s="60")
    finally:
        timer.join()
    assert res.returncode == 0, res.stderr


def test_gives_up_with_a_clear_error():
    res = _migrate(f"postgresql://u:p@127.0.0.1:{free_port()}/db", wait_s="1")
    assert res.returncode == 1
    assert "database not reachable after 1 s" in res.stderr
    assert "Traceback" not in res.stderr
