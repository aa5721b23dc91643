"""What `loadline local status` reports: each recorded component's live health, and why not.

Every check is bounded by short timeouts and never raises: a broken component, a stale
pid file or a state file from an older version is reported as down with its reason,
because `status` is run exactly when something is wrong.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import redis as redis_sync
import requests
from redis.backoff import NoBackoff
from redis.retry import Retry
from rich.markup import escape

from loadline.local import processes
from loadline.local.env import EXPORTER_PREFIX
from loadline.local.state import read_state

NOT_RUNNING: dict[str, Any] = {"up": False, "api_url": None, "prometheus_url": None, "components": {}}
TIMEOUT_S = 2


def _reason_http(url: str) -> str | None:
    """None when `url` answers 200, else why not."""
    try:
        resp = requests.get(url, timeout=TIMEOUT_S)
    except requests.RequestException as exc:
        return f"no answer from {url} ({type(exc).__name__})"
    if resp.status_code != 200:
        return f"{url} answered {resp.status_code}: {resp.text.strip()[:200]}"
    return None


def _reason_tcp(host: str, port: int) -> str | None:
    try:
        with socket.create_connection((host, port), timeout=TIMEOUT_S):
            return None
    except OSError as exc:
        return f"nothing accepts connections on {host}:{port} ({exc.strerror or type(exc).__name__})"


def _postgres(comp: dict, wd: Path) -> str | None:
    p = urlsplit(comp["url"])
    return _reason_tcp(p.hostname or "127.0.0.1", p.port or comp.get("port") or 5432)


def _redis_node(url: str) -> tuple[str | None, dict | None]:
    """(why the node is down or None, its CLUSTER INFO when it is a cluster node)."""
    p = urlsplit(url.strip())
    where = f"{p.hostname}:{p.port}"
    try:
        # One attempt: redis-py retries a refused connection with back-off (4 s per node),
        # and a status is asked for exactly when something is down.
        with redis_sync.Redis(host=p.hostname or "localhost", port=p.port or 6379, socket_timeout=TIMEOUT_S,
                              socket_connect_timeout=TIMEOUT_S, retry=Retry(NoBackoff(), 0)) as c:
            c.ping()
            cluster = c.info("cluster").get("cluster_enabled") == 1
            return None, c.cluster("info") if cluster else None
    except redis_sync.RedisError as exc:
        return f"{where}: {type(exc).__name__}", None


def _redis(comp: dict, wd: Path) -> str | None:
    urls = [u for u in comp["url"].split(",") if u.strip()]
    problems, states = [], []
    for url in urls:
        problem, info = _redis_node(url)
        if problem:
            problems.append(problem)
        elif info is not None:
            states.append(info.get("cluster_state"))
    if problems:
        return f"{len(problems)} of {len(urls)} Redis node(s) do not answer: " + "; ".join(problems)
    if any(s != "ok" for s in states):
        return f"cluster_state is {next(s for s in states if s != 'ok')}"
    return None


def _process_then_http(name: str, url: str) -> Callable[[dict, Path], str | None]:
    def check(comp: dict, wd: Path) -> str | None:
        if not processes.alive(wd, name):
            return f"process not running (pid file {wd / processes.PIDS_DIR / (name + '.json')})"
        return _reason_http(url)
    return check


def _api_degraded(state: dict) -> str | None:
    """What /readyz says is degraded while it still answers 200 (e.g. Redis down)."""
    try:
        body = requests.get(f"{state['api_url']}/readyz", timeout=TIMEOUT_S).json()
    except (requests.RequestException, ValueError):
        return None
    bad = {k: v for k, v in body.get("checks", {}).items() if v != "ok"}
    return f"degraded: {json.dumps(bad)}" if bad else None


def _exporters(comp: dict, wd: Path) -> str | None:
    recorded = [n for n in processes.names(wd) if n.startswith(EXPORTER_PREFIX)]
    problems = [f"not running: {n}" for n in recorded if not processes.alive(wd, n)]
    targets = [*(comp.get("redis") or []), *([comp["postgres"]] if comp.get("postgres") else [])]
    for target in targets:
        host, _, port = target.rpartition(":")
        if _reason_tcp(host, int(port)):
            problems.append(f"no answer on {target}")
    if not recorded and not problems:
        problems.append("no exporter recorded")
    return "; ".join(problems) or None


def _api_scraped(prom_url: str) -> bool:
    try:
        targets = requests.get(f"{prom_url}/api/v1/targets", timeout=TIMEOUT_S).json()["data"]["activeTargets"]
    except (requests.RequestException, ValueError, KeyError, TypeError):
        return False
    return any(t.get("labels", {}).get("job") == "loadline-api" and t.get("health") == "up" for t in targets)


def status(wd: Path) -> dict:
    """The recorded state with, per component, `up` and `reason` (null when up), and `up` overall.

    Nothing recorded: NOT_RUNNING (with a `reason` when the state file is unreadable).
    """
    try:
        state = read_state(wd)
    except (OSError, ValueError) as exc:
        return {**NOT_RUNNING, "reason": f"unreadable state file {wd / 'state.json'}: {exc}"}
    if state is None:
        return dict(NOT_RUNNING)
    components = state.get("components") or {}
    for name, comp in list(components.items()):
        if not isinstance(comp, dict):
            components[name] = {"recorded": comp}
    checks: dict[str, Callable[[dict, Path], str | None]] = {
        "postgres": _postgres,
        "redis": _redis,
        "api": _process_then_http("api", f"{state.get('api_url')}/readyz"),
        "prometheus": _process_then_http("prometheus", f"{state.get('prometheus_url')}/-/ready"),
        "exporters": _exporters,
        "alertmanager": _process_then_http(
            "alertmanager", f"{(components.get('alertmanager') or {}).get('url')}/-/ready"),
    }
    for name, comp in components.items():
        check = checks.get(name)
        try:
            reason = check(comp, wd) if check else None
        except Exception as exc:  # noqa: BLE001 - a state file we cannot read is a reason, not a crash
            reason = f"cannot check: {type(exc).__name__}: {exc}"
        comp["up"], comp["reason"] = reason is None, reason
    if components.get("api", {}).get("up"):
        components["api"]["reason"] = _api_degraded(state)
    if "prometheus" in components:
        prom = components["prometheus"]
        prom["scraping_api"] = bool(prom.get("up")) and _api_scraped(state.get("prometheus_url", ""))
    state["components"] = components
    state["up"] = bool(components) and all(c["up"] for c in components.values())
    return state


def where(name: str, comp: dict) -> str:
    """The address to show for a component, whatever its recorded shape."""
    if name == "exporters":
        redis_targets = comp.get("redis") or []
        return ", ".join([*redis_targets, *([comp["postgres"]] if comp.get("postgres") else [])])
    if name == "postgres" and comp.get("port"):
        return f"127.0.0.1:{comp['port']}"
    return str(comp.get("url", ""))


def summary_lines(state: dict) -> list[str]:
    """The human-readable report `status` prints (rich markup)."""
    if not state.get("components"):
        reason = state.get("reason")
        return ["local environment: not running" + (f" ({escape(reason)})" if reason else "")]
    lines = [f"local environment ({state.get('stack', '?')}) in {state.get('workdir', '?')}"]
    for name, comp in state["components"].items():
        mark = "[green]up[/]" if comp.get("up") else "[red]down[/]"
        lines.append(f"  {name:<11} {mark:<20} {escape(where(name, comp))}")
        if comp.get("reason"):
            lines.append(f"  {'':<11} {'':<9} {escape(comp['reason'])}")
    down = [n for n, c in state["components"].items() if not c.get("up")]
    lines.append(f"down: {', '.join(down)}" if down else "all up")
    return lines
