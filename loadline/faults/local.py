"""Faults on the local environment's real processes (`loadline local up`).

Every process is found through the pid files the local environment keeps in its
working directory, so the injector acts on exactly what `local down` stops.
Whatever is killed is started again by the same launcher (`loadline.services`),
which records the new pid, so `local down` still cleans up after a fault.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil
import redis as redis_sync

from loadline.faults.spec import FaultSpec
from loadline.local import processes
from loadline.services import pids
from loadline.services.errors import ServiceError
from loadline.services.postgres import Postgres, pg_bin_dir
from loadline.services.redis import RedisServer
from loadline.services.redis_cluster import cluster_args


class InjectionError(Exception):
    """The fault could not be injected (or undone); the message says which process and why."""


@dataclass
class Applied:
    """One injected fault: what it hit, and how to undo it."""

    target: str
    restore: Callable[[], None] = field(repr=False)


def _ports(url: str) -> list[int]:
    return [p for p in (urlsplit(u.strip()).port for u in url.split(",")) if p]


def choose_primary(roles: dict[int, str]) -> int:
    """The Redis node to kill as "one primary": the master on the lowest port (deterministic)."""
    masters = sorted(port for port, role in roles.items() if role == "master")
    if not masters:
        raise InjectionError(f"no Redis node answers as a master (roles: {roles or 'none reachable'})")
    return masters[0]


def _role(port: int, cluster: bool) -> str:
    """"master" only for a node that serves slots: a killed master that rejoins calls itself
    master until it learns of its failover, and killing it would hit nothing."""
    try:
        with redis_sync.Redis(host="127.0.0.1", port=port, socket_timeout=2, socket_connect_timeout=2) as c:
            role = str(c.info("replication").get("role"))
            if role != "master" or not cluster:
                return role
            nodes = c.execute_command("CLUSTER NODES")  # redis-py parses it: {"host:port": {...}}
    except redis_sync.RedisError:
        return "unreachable"
    myself: dict[str, Any] = next((n for n in nodes.values() if "myself" in n.get("flags", "")), {})
    return "master" if myself.get("slots") else "master-without-slots"


def choose_worker(children: list[tuple[int, list[str]]]) -> int:
    """An API worker among the server's child processes (pid, cmdline): the lowest worker pid.

    uvicorn starts workers with multiprocessing's spawn (`spawn_main` in the command line);
    its resource tracker is a child too and must not be mistaken for a worker.
    """
    workers = sorted(pid for pid, cmd in children if any("spawn_main" in part for part in cmd))
    if not workers:
        workers = sorted(pid for pid, cmd in children
                         if not any("resource_tracker" in part for part in cmd))
    if not workers:
        raise InjectionError("the API runs no worker processes to kill (api.workers must be >= 2)")
    return workers[0]


class LocalInjector:
    """Injects faults into the local environment recorded in `wd` (its state.json)."""

    def __init__(self, wd: Path, state: dict):
        self.wd = wd
        comps = state["components"]
        self.redis_mode = comps["redis"]["mode"]
        self.redis_ports = _ports(comps["redis"]["url"])
        self.pg_url = comps["postgres"]["url"]

    # -- Redis ---------------------------------------------------------------------------
    def _redis_node(self, port: int) -> RedisServer:
        cluster = self.redis_mode == "cluster"
        return RedisServer(workdir=self.wd / "redis", port=port,
                           extra_args=cluster_args() if cluster else [],
                           prefix="redis-cluster" if cluster else "redis")

    def _redis_process(self, node: RedisServer) -> psutil.Process:
        proc = pids.live_process(node.workdir, node.name)
        if proc is None:
            raise InjectionError(f"Redis node 127.0.0.1:{node.port} is not running "
                                 f"(no live pid recorded under {node.workdir / pids.PID_DIR})")
        return proc

    def _kill_redis(self, ports: list[int]) -> Applied:
        nodes = [self._redis_node(p) for p in ports]
        procs = [self._redis_process(n) for n in nodes]
        for proc in procs:
            proc.send_signal(signal.SIGKILL)
        psutil.wait_procs(procs, timeout=10)
        for n in nodes:
            pids.forget(n.workdir, n.name)

        def restore() -> None:
            for n in nodes:
                n.start()  # same port, same directory (nodes.conf): the node rejoins as it was

        return Applied(target=", ".join(f"redis 127.0.0.1:{p}" for p in ports), restore=restore)

    def _stall_redis(self) -> Applied:
        procs = [self._redis_process(self._redis_node(p)) for p in self.redis_ports]
        for proc in procs:
            proc.suspend()

        def restore() -> None:
            for proc in procs:
                try:
                    proc.resume()
                except psutil.NoSuchProcess:
                    pass

        return Applied(target=", ".join(f"redis 127.0.0.1:{p}" for p in self.redis_ports) + " (SIGSTOP)",
                       restore=restore)

    # -- PostgreSQL ----------------------------------------------------------------------
    def _postgres(self) -> Postgres:
        url = urlsplit(self.pg_url)
        return Postgres(workdir=self.wd / "postgres", port=url.port or 5432,
                        password=url.password or "", bin_dir=pg_bin_dir())

    def _restart_postgres(self) -> Applied:
        pg = self._postgres()
        if not pg.pid():
            raise InjectionError(f"PostgreSQL on 127.0.0.1:{pg.port} is not running (no postmaster.pid)")
        pg.kill()
        return Applied(target=f"postgres 127.0.0.1:{pg.port} (postmaster)", restore=pg.start)

    # -- API -----------------------------------------------------------------------------
    def _kill_api_worker(self) -> Applied:
        leader = processes.leader(self.wd, "api")
        if leader is None:
            raise InjectionError(f"the API is not running (no live pid recorded in {self.wd})")
        children = []
        for child in leader.children():
            try:
                children.append((child.pid, child.cmdline()))
            except psutil.NoSuchProcess:
                continue
        pid = choose_worker(children)
        psutil.Process(pid).send_signal(signal.SIGKILL)
        # Nothing to undo: the server's supervisor starts a new worker.
        return Applied(target=f"api worker pid {pid}", restore=lambda: None)

    def inject(self, spec: FaultSpec) -> Applied:
        try:
            match spec.kind.name:
                case "redis-primary-kill":
                    if self.redis_mode == "cluster":
                        port = choose_primary({p: _role(p, cluster=True) for p in self.redis_ports})
                    else:
                        port = self.redis_ports[0]
                    return self._kill_redis([port])
                case "redis-all-kill":
                    return self._kill_redis(self.redis_ports)
                case "redis-stall":
                    return self._stall_redis()
                case "postgres-restart":
                    return self._restart_postgres()
                case "api-worker-kill":
                    return self._kill_api_worker()
        except (OSError, psutil.Error, ServiceError) as exc:
            raise InjectionError(f"{spec.text}: {type(exc).__name__}: {exc}") from None
        raise InjectionError(f"{spec.text}: no local injector for '{spec.kind.name}'")
