"""`python -m app migrate`: waits for the database, applies once, is a no-op the second time."""

from __future__ import annotations

import os
import subprocess
import sys

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


def _env(url: str, wait_s: str = "30") -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVENTS_")}
    env.update(EVENTS_ENVIRONMENT="development", EVENTS_DATABASE_URL=url, EVENTS_MIGRATE_WAIT_SECONDS=wait_s)
    return env


def test_waits_for_a_database_that_starts_later(database_url, postgres, outage):
    outage.stop(postgres)
    proc = subprocess.Popen([sys.executable, "-m", "app", "migrate"], env=_env(database_url, "120"),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        # The database comes back only once migrate has found it down: the wait really happens.
        first = proc.stdout.readline()
        assert "waiting for the database" in first, first
        assert proc.poll() is None
        outage.restart(postgres)
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, first + out
    assert "migrate: applied nothing" in out


def test_two_concurrent_runs_apply_each_migration_once(postgres):
    name = f"migrate_race_{os.getpid()}"
    postgres.psql(f"DROP DATABASE IF EXISTS {name}")
    postgres.psql(f"CREATE DATABASE {name} OWNER loadline")
    url = postgres.url.rsplit("/", 1)[0] + f"/{name}"
    try:
        procs = [subprocess.Popen([sys.executable, "-m", "app", "migrate"], env=_env(url),
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                 for _ in range(2)]
        outs = [p.communicate(timeout=120)[0] for p in procs]
        assert [p.returncode for p in procs] == [0, 0], outs
        # One run applied both migrations under the lock; the other found them done.
        results = sorted(line for out in outs for line in out.splitlines() if line.startswith("migrate:"))
        assert results == ["migrate: applied [1, 2]", "migrate: applied nothing (up to date)"], outs
        versions = subprocess.run(["psql", url, "-AXqtc", "SELECT version FROM schema_migrations ORDER BY 1"],
                                  capture_output=True, text=True, timeout=30).stdout.split()
        assert versions == ["1", "2"]
    finally:
        postgres.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_gives_up_with_a_clear_error():
    res = _migrate(f"postgresql://u:p@127.0.0.1:{free_port()}/db", wait_s="1")
    assert res.returncode == 1
    assert "database not reachable after 1 s" in res.stderr
    assert "Traceback" not in res.stderr
