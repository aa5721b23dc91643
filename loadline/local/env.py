"""`loadline local up|status|down`: the profile's topology as real processes on loopback.

PostgreSQL, Redis (standalone or a real cluster) and their pid files come from
`loadline.services`; the API (`python -m app serve`, N workers), the Redis and
PostgreSQL exporters and Prometheus are started here. `up` either finishes with
everything ready or stops whatever it had started; `down` stops everything
recorded in the working directory, whichever process started it.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import requests

from loadline.local import alertmanager as am
from loadline.local import exporters, processes
from loadline.local import prometheus as prom
from loadline.local.state import API_KEY_FILE, STATE_FILE, read_state, write_api_key, write_state
from loadline.profile import REPO_ROOT, Profile

READY_TIMEOUT_S = 90
MIGRATE_TIMEOUT_S = 120
# Directories `up` recreates on each start; logs stay until the next `up` for post-mortems.
DATA_DIRS = ("postgres", "redis", "api", "prometheus", "alertmanager")
EXPORTER_PREFIX = "exporter-"


class LocalError(Exception):
    """`up` could not finish; the message says which step and why."""


Step = Callable[[str], None]


def _wait_http(url: str, timeout_s: float, what: str, check_pid: Callable[[], bool] | None = None,
               log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    last = ""
    while time.monotonic() < deadline:
        try:
            resp = requests.get(url, timeout=2)
            if resp.status_code == 200:
                return
            last = f"{resp.status_code} {resp.text[:200]}"
        except requests.RequestException as exc:
            last = type(exc).__name__
        if check_pid is not None and not check_pid():
            tail = log.read_text()[-1500:] if log and log.exists() else ""
            raise LocalError(f"{what} exited before it was ready; {log} ends with:\n{tail}")
        time.sleep(0.3)
    raise LocalError(f"{what} not ready at {url} after {timeout_s} s ({last})")


def _free_port() -> int:
    from loadline.services import free_port
    return free_port()


def _api_env(profile: Profile, wd: Path, *, db_url: str, redis_url: str, api_key: str, port: int) -> dict:
    multiproc = wd / "api" / "prometheus-multiproc"
    multiproc.mkdir(parents=True, exist_ok=True)
    return {
        **os.environ,
        "EVENTS_ENVIRONMENT": "development",
        "EVENTS_DATABASE_URL": db_url,
        "EVENTS_REDIS_MODE": profile.redis.mode,
        "EVENTS_REDIS_URL": redis_url,
        "EVENTS_API_KEYS": api_key,
        "EVENTS_HOST": "127.0.0.1",
        "EVENTS_PORT": str(port),
        "EVENTS_WORKERS": str(profile.api.workers),
        "EVENTS_CACHE_EVENT_TTL_SECONDS": str(profile.api.cache.event_ttl_seconds),
        "EVENTS_CACHE_SEARCH_TTL_SECONDS": str(profile.api.cache.search_ttl_seconds),
        "EVENTS_CACHE_L1_SIZE": str(profile.api.cache.l1_size),
        "EVENTS_CACHE_L1_TTL_SECONDS": f"{profile.api.cache.l1_ttl_seconds:g}",
        "EVENTS_RATE_LIMIT_PER_SECOND": str(profile.api.rate_limit.per_second),
        "EVENTS_RATE_LIMIT_BURST": str(profile.api.rate_limit.burst),
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
    }


def rotate_logs(logs: Path) -> None:
    """Each `up` starts fresh logs, so an error's log tail is this run's; the last run's stay as .1."""
    logs.mkdir(parents=True, exist_ok=True)
    for log in logs.glob("*.log"):
        log.replace(log.with_name(log.name + ".1"))


def is_up(wd: Path) -> bool:
    return read_state(wd) is not None or bool(processes.names(wd))


def up(profile: Profile, stack: str, wd: Path, step: Step) -> dict:
    """Bring the topology up and return the state; on any failure stop what was started."""
    from loadline.services import ServiceError, start_postgres, start_redis, start_redis_cluster
    from loadline.services.redis import RedisServer
    from loadline.services.redis_cluster import RedisCluster

    if is_up(wd):
        raise LocalError(f"a local environment is already recorded in {wd}; run `loadline local down` first")
    wd.mkdir(parents=True, exist_ok=True)
    for name in DATA_DIRS:
        shutil.rmtree(wd / name, ignore_errors=True)
    rotate_logs(wd / "logs")
    try:
        step("PostgreSQL")
        pg = start_postgres(wd / "postgres")
        step(f"Redis ({profile.redis.mode})")
        redis: RedisCluster | RedisServer
        if profile.redis.mode == "cluster":
            redis = start_redis_cluster(wd / "redis", masters=profile.redis.shards,
                                        replicas_per_master=profile.redis.replicas_per_shard)
            redis_nodes = len(redis.nodes)
        else:
            redis = start_redis(wd / "redis")
            redis_nodes = 1
        api_key = secrets.token_urlsafe(32)
        write_api_key(wd, api_key)
        port = _free_port()
        env = _api_env(profile, wd, db_url=pg.url, redis_url=redis.url, api_key=api_key, port=port)
        step("migrations")
        try:
            res = subprocess.run([sys.executable, "-m", "app", "migrate"], env=env, cwd=REPO_ROOT,
                                 capture_output=True, text=True, timeout=MIGRATE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise LocalError(f"`python -m app migrate` did not finish in {MIGRATE_TIMEOUT_S} s") from None
        (wd / "logs" / "migrate.log").write_text(res.stdout + res.stderr)
        if res.returncode != 0:
            raise LocalError(f"`python -m app migrate` exited {res.returncode}:\n{(res.stdout + res.stderr)[-1500:]}")
        step(f"API ({profile.api.workers} workers)")
        api_log = wd / "logs" / "api.log"
        processes.spawn(wd, "api", [sys.executable, "-m", "app", "serve"], env=env, log=api_log,
                        cwd=REPO_ROOT)
        api_url = f"http://127.0.0.1:{port}"
        _wait_http(f"{api_url}/readyz", READY_TIMEOUT_S, "the API",
                   lambda: processes.alive(wd, "api"), api_log)
        step("exporters (Redis, PostgreSQL)")
        redis_targets, postgres_target = _start_exporters(wd, redis_urls=redis.url.split(","), db_url=pg.url)
        step("Alertmanager")
        am_listen, webhook_url, am_log = _start_alertmanager(profile, wd)
        step("Prometheus")
        prom_port = _free_port()
        listen = f"127.0.0.1:{prom_port}"
        config = prom.write_config(profile, wd / "prometheus", api_target=f"127.0.0.1:{port}",
                                   listen=listen, redis_targets=redis_targets,
                                   postgres_targets=[postgres_target], alertmanager=am_listen)
        prom_log = wd / "logs" / "prometheus.log"
        processes.spawn(wd, "prometheus",
                        prom.command(config, wd / "prometheus" / "data", listen,
                                     profile.monitoring.retention),
                        env=dict(os.environ), log=prom_log)
        prom_url = f"http://{listen}"
        _wait_http(f"{prom_url}/-/ready", READY_TIMEOUT_S, "Prometheus",
                   lambda: processes.alive(wd, "prometheus"), prom_log)
    except ServiceError as exc:
        down(wd)
        raise LocalError(str(exc)) from None
    except BaseException:
        # Ctrl-C or a failed step: leave nothing behind.
        down(wd)
        raise
    state = {
        "stack": stack,
        "workdir": str(wd),
        "api_url": api_url,
        "prometheus_url": prom_url,
        "api_key_file": str(wd / API_KEY_FILE),
        "components": {
            "postgres": {"url": pg.url, "port": pg.port},
            "redis": {"mode": profile.redis.mode, "url": redis.url, "nodes": redis_nodes},
            "api": {"url": api_url, "workers": profile.api.workers, "log": str(api_log)},
            "prometheus": {"url": prom_url, "config": str(config), "log": str(prom_log)},
            "exporters": {"redis": redis_targets, "postgres": postgres_target},
            "alertmanager": {"url": f"http://{am_listen}", "webhook_url": webhook_url, "log": str(am_log)},
        },
    }
    write_state(wd, state)
    return state


def _start_alertmanager(profile: Profile, wd: Path) -> tuple[str, str, Path]:
    """Alertmanager on a free port, its receiver a webhook on another one the gate will serve.

    Returns (its host:port, the webhook URL, its log).
    """
    exe = am.binary()
    if exe is None:
        raise LocalError(f"Alertmanager not installed; run `make setup` (or: apt-get install {am.PACKAGE})")
    webhook_url = f"http://127.0.0.1:{_free_port()}/alerts"
    try:
        config = am.write_config(profile, wd / "alertmanager", webhook_url=webhook_url)
    except am.AlertmanagerConfigError as exc:
        raise LocalError(str(exc)) from None
    listen = f"127.0.0.1:{_free_port()}"
    log = wd / "logs" / "alertmanager.log"
    processes.spawn(wd, "alertmanager", am.command(exe, config, wd / "alertmanager" / "data", listen),
                    env=dict(os.environ), log=log, cwd=wd)
    _wait_http(f"http://{listen}/-/ready", READY_TIMEOUT_S, "Alertmanager",
               lambda: processes.alive(wd, "alertmanager"), log)
    return listen, webhook_url, log


def _start_exporters(wd: Path, *, redis_urls: list[str], db_url: str) -> tuple[list[str], str]:
    """One redis exporter per Redis node and one postgres exporter, each waited for on /metrics.

    Returns (the redis exporters' targets, the postgres exporter's target) as host:port.
    """
    missing = exporters.missing()
    if missing:
        raise LocalError(f"exporters not installed: {', '.join(missing)}; run `make setup` "
                         f"(or: apt-get install {' '.join(missing)})")

    def start(name: str, command: Callable[[str], list[str]], env: dict[str, str]) -> str:
        listen = f"127.0.0.1:{_free_port()}"
        proc_name = EXPORTER_PREFIX + name
        log = wd / "logs" / f"{proc_name}.log"
        processes.spawn(wd, proc_name, command(listen), env=env, log=log, cwd=wd)
        _wait_http(f"http://{listen}/metrics", READY_TIMEOUT_S, f"the {name} exporter",
                   lambda: processes.alive(wd, proc_name), log)
        return listen

    redis_targets = [start(f"redis-{i}", partial(exporters.redis_command, url.strip()), dict(os.environ))
                     for i, url in enumerate(redis_urls)]
    return redis_targets, start("postgres", exporters.postgres_command, exporters.postgres_env(db_url))


def down(wd: Path) -> list[str]:
    """Stop every process recorded under `wd`; returns the names that were running."""
    from loadline.services import stop_all

    stopped = [name for name in processes.names(wd) if processes.stop(wd, name)]
    # The launchers record pids under the directory each was given.
    for d in (wd / "postgres", wd / "redis", wd):
        if d.exists():
            stop_all(d)
    (wd / STATE_FILE).unlink(missing_ok=True)
    return stopped
