"""`python -m bench.service` (make bench-app): the production server under headless Locust.

One run: real PostgreSQL and Redis (the launchers), migrated and seeded; the
production server (`python -m app serve`); then three bounded phases, loopback only:
  (a) the bare endpoint GET /v1/ping at full speed,
  (b) the cached search at full speed, (a) and (b) side by side in alternating slices,
  (c) the cached search paced at --rate requests/s, for its p95.
It prints each throughput, the p95 of (b) and (c), and a last line
`ratio cached/bare: X.XX`. Everything it started is stopped, even on Ctrl-C.
"""

from gevent import monkey

monkey.patch_all()  # before anything opens a socket: Locust runs on gevent

import argparse  # noqa: E402
import asyncio  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402
import psutil  # noqa: E402
import requests  # noqa: E402
from gevent.event import Event  # noqa: E402
from locust import FastHttpUser, constant, constant_throughput, task  # noqa: E402
from locust.env import Environment  # noqa: E402

from loadline.services import (  # noqa: E402
    RedisCluster,
    RedisServer,
    free_port,
    pids,  # noqa: E402
    start_postgres,
    start_redis,
    start_redis_cluster,
    stop_all,
)

API_KEY = "bench-key-0123456789abcdef"
SEARCH = {"starts_at": "2030-01-01T00:00:00Z", "ends_at": "2030-01-01T06:00:00Z", "limit": "20"}
SEED_SQL = ("INSERT INTO events (title, venue, starts_at, ends_at, capacity) "
            "SELECT 'event ' || i, 'hall ' || (i % 7), ts, ts + interval '2 hours', 100 + i % 50 FROM "
            "(SELECT i, timestamptz '2029-12-01' + i * interval '3 minutes' AS ts "
            " FROM generate_series(1, 50000) AS i) s; ANALYZE events;")


class BareUser(FastHttpUser):
    wait_time = constant(0)

    @task
    def ping(self):
        with self.client.get("/v1/ping", name="bare /v1/ping", catch_response=True) as resp:
            if resp.status_code != 200 or resp.content != b'{"status":"ok"}':
                resp.failure(f"unexpected answer {resp.status_code}")


class SearchUser(FastHttpUser):
    wait_time = constant(0)

    @task
    def search(self):
        with self.client.get("/v1/events/search", params=SEARCH, name="cached /v1/events/search",
                             catch_response=True) as resp:
            # A byte check, not a JSON parse: the load generator shares the two cores with the server.
            body = resp.content or b""
            if resp.status_code != 200 or not body.startswith(b'{"items":[') or body.count(b'"id":') != 20:
                resp.failure(f"unexpected answer {resp.status_code}: {body[:120]!r}")


# Set by SIGINT/SIGTERM. Under gevent a signal does not interrupt the main greenlet's
# sleep, so every wait watches this event and the run unwinds through its `finally`.
STOP = Event()


def _wait(seconds: float) -> None:
    if STOP.wait(timeout=seconds):
        raise KeyboardInterrupt


def _cpu_seconds(groups: dict[str, list[psutil.Process]]) -> dict[str, float]:
    out = {}
    for name, procs in groups.items():
        total = 0.0
        for p in procs:
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.NoSuchProcess:
                pass
        out[name] = total
    return out


def run_phase(host: str, user: type, users: int, seconds: float, cpu: dict[str, list[psutil.Process]],
              spawn_s: float = 0.0) -> dict:
    """One bounded phase: its complete statistics, measured seconds and CPU seconds by process group."""
    env = Environment(user_classes=[user], host=host)
    runner = env.create_local_runner()
    runner.start(users, spawn_rate=users / spawn_s if spawn_s else users)
    try:
        _wait(spawn_s + min(2.0, seconds / 4))  # spawning and warm-up excluded from the figures
        env.stats.reset_all()
        cpu_before = _cpu_seconds(cpu)
        started = time.monotonic()
        _wait(seconds)
        elapsed = time.monotonic() - started
        cpu_after = _cpu_seconds(cpu)
    except KeyboardInterrupt:
        runner.quit()
        raise
    runner.quit()
    return {"stats": env.stats.total, "elapsed": elapsed,
            "errors": [str(e.error) for e in env.stats.errors.values()],
            "cpu_s": {k: cpu_after[k] - cpu_before[k] for k in cpu}}


def summarize(phases: list[dict]) -> dict:
    """The figures of one or more phases of the same load, as if they were one."""
    total = phases[0]["stats"]
    for phase in phases[1:]:
        total.extend(phase["stats"])
    elapsed = sum(p["elapsed"] for p in phases)
    requests = total.num_requests
    return {"requests": requests, "failures": total.num_failures, "rps": requests / elapsed,
            "p50_ms": total.get_response_time_percentile(0.5), "p95_ms": total.get_response_time_percentile(0.95),
            "p99_ms": total.get_response_time_percentile(0.99),
            "errors": [e for p in phases for e in p["errors"]][:3],
            # Where the two cores went: CPU microseconds per request, by process group.
            "cpu_us": {k: sum(p["cpu_s"][k] for p in phases) / max(requests, 1) * 1e6 for k in phases[0]["cpu_s"]}}


def side_by_side(host: str, users: int, seconds: float, slices: int,
                 cpu: dict[str, list[psutil.Process]]) -> tuple[dict, dict]:
    """(a) and (b) in alternating slices: on a shared machine the load from outside drifts over a
    run, and phases run one after the other would each meet a different part of it."""
    bare, cached = [], []
    for _ in range(slices):
        bare.append(run_phase(host, BareUser, users, seconds / slices, cpu))
        cached.append(run_phase(host, SearchUser, users, seconds / slices, cpu))
    return summarize(bare), summarize(cached)


def profile(host: str, users: int, seconds: float, cpu: dict[str, list[psutil.Process]], out: Path) -> list[Path]:
    """py-spy flame graphs of every server worker under (a) and (b), after the measured phases
    (sampling slows the workers, so it never touches the figures)."""
    spy = Path(sys.executable).with_name("py-spy")
    if not spy.exists():
        raise SystemExit("error: --profile: py-spy is not installed in this environment (make venv installs it)")
    out.mkdir(parents=True, exist_ok=True)
    workers = [p for p in cpu["server"] if "spawn_main" in " ".join(p.cmdline())]
    graphs = []
    for name, user in (("bare", BareUser), ("search", SearchUser)):
        spies = []
        for worker in workers:
            graphs.append(out / f"{name}-{worker.pid}.svg")
            spies.append(subprocess.Popen(
                [str(spy), "record", "--pid", str(worker.pid), "--duration", str(int(seconds + 3)), "--rate", "100",
                 "--nonblocking", "--format", "flamegraph", "--output", str(graphs[-1])],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        try:
            run_phase(host, user, users, seconds, cpu)
        finally:
            for s in spies:
                try:
                    s.wait(30)
                except subprocess.TimeoutExpired:
                    s.kill()
    return [g for g in graphs if g.exists()]


def start_server(wd: Path, env: dict, port: int) -> subprocess.Popen:
    log = open(wd / "server.log", "w")  # noqa: SIM115  (the server writes to it until it stops)
    proc = subprocess.Popen([sys.executable, "-m", "app", "serve"], env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    pids.record(wd, "app-server", proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"error: server exited with {proc.returncode}; see {wd / 'server.log'}")
        try:
            if STOP.is_set() or requests.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise SystemExit(f"error: server not ready after 60 s; see {wd / 'server.log'}")


def stop_server(proc: subprocess.Popen | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.service", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15, help="measured seconds per phase (default 15)")
    parser.add_argument("--users", type=int, default=32, help="concurrent users in the full-speed phases")
    parser.add_argument("--slices", type=int, default=3,
                        help="(a) and (b) each run in this many alternating slices of seconds/slices (default 3)")
    parser.add_argument("--rate", type=float, default=1000, help="paced rate of phase (c), requests/s")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes (EVENTS_WORKERS)")
    parser.add_argument("--server", choices=["uvicorn", "granian"], default="uvicorn")
    parser.add_argument("--redis", choices=["standalone", "cluster"], default="standalone",
                        help="a standalone Redis, or a 6-node Redis Cluster (3 masters, 3 replicas)")
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="afterwards, profile each server worker under (a) and (b) with py-spy "
                             "(needs ptrace rights) and write flame graphs to DIR")
    parser.add_argument("--no-access-log", action="store_true",
                        help="turn the per-request access log off (on by default, as in production)")
    args = parser.parse_args(argv)
    if not 1 <= args.seconds <= 300:
        parser.error("--seconds: between 1 and 300")
    if not 1 <= args.slices <= 10 or args.seconds / args.slices < 1:
        parser.error("--slices: between 1 and 10, and at least 1 s each (--seconds / --slices)")

    gevent.signal_handler(signal.SIGINT, STOP.set)
    gevent.signal_handler(signal.SIGTERM, STOP.set)
    wd = Path(tempfile.mkdtemp(prefix="loadline-bench-", dir="/tmp"))
    wd.chmod(0o755)
    server = None
    try:
        print(f"bench: starting PostgreSQL and Redis under {wd}", flush=True)
        pg = start_postgres(wd)
        redis = start_redis(wd) if args.redis == "standalone" else start_redis_cluster(wd)
        from app.migrations import migrate

        asyncio.run(migrate(pg.url, wait_s=30))
        pg.psql(SEED_SQL)
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("EVENTS_")}
        env.update(EVENTS_ENVIRONMENT="development", EVENTS_DATABASE_URL=pg.url, EVENTS_REDIS_URL=redis.url,
                   EVENTS_REDIS_MODE=args.redis,
                   EVENTS_API_KEYS=API_KEY, EVENTS_HOST="127.0.0.1", EVENTS_PORT=str(port),
                   EVENTS_WORKERS=str(args.workers), EVENTS_SERVER=args.server,
                   EVENTS_ACCESS_LOG="false" if args.no_access_log else "true",
                   # The limiter still runs its script on every request; it just never refuses.
                   EVENTS_RATE_LIMIT_PER_SECOND="1000000", EVENTS_RATE_LIMIT_BURST="1000000",
                   EVENTS_CACHE_SEARCH_TTL_SECONDS="300", PROMETHEUS_MULTIPROC_DIR=str(wd / "prometheus"))
        server = start_server(wd, env, port)
        if STOP.is_set():
            raise KeyboardInterrupt
        host = f"http://127.0.0.1:{port}"
        print(f"bench: {args.server} with {args.workers} workers on {host}, {args.redis} Redis; "
              f"{args.seconds:g} s per phase, {args.users} users", flush=True)

        server_procs = [psutil.Process(server.pid), *psutil.Process(server.pid).children(recursive=True)]
        nodes: list[RedisServer] = list(redis.nodes) if isinstance(redis, RedisCluster) else [redis]
        cpu = {"server": server_procs, "redis": [psutil.Process(n.proc.pid) for n in nodes if n.proc is not None],
               "locust": [psutil.Process()]}
        bare, cached = side_by_side(host, args.users, args.seconds, args.slices, cpu)
        # Few users, each paced at 50 req/s: every extra Locust user adds scheduling delay in
        # the generator (it shares the cores), which showed up as server latency. Measured:
        # 100 users x 10/s gave p95 55-91 ms, 50 x 20/s 17-49 ms, 20 x 50/s 12-15 ms (same run).
        users = max(1, int(args.rate // 50))
        SearchUser.wait_time = constant_throughput(args.rate / users)
        paced = summarize([run_phase(host, SearchUser, users, args.seconds, cpu)])
        SearchUser.wait_time = constant(0)

        for name, r in (("(a) bare GET /v1/ping", bare), ("(b) cached search, full speed", cached),
                        (f"(c) cached search paced at {args.rate:g} rps", paced)):
            print(f"{name}: {r['rps']:.0f} req/s, p50 {r['p50_ms']:.0f} ms, p95 {r['p95_ms']:.0f} ms, "
                  f"p99 {r['p99_ms']:.0f} ms, {r['failures']} failures of {r['requests']}"
                  + (f" ({'; '.join(r['errors'])})" if r["errors"] else ""))
            print("    CPU per request: " + ", ".join(f"{k} {v:.0f} us" for k, v in r["cpu_us"].items()))
        print(f"cached search p95 at {paced['rps']:.0f} rps: {paced['p95_ms']:.0f} ms "
              f"(target < 20 ms at {args.rate:g} rps)")
        ratio = cached["rps"] / bare["rps"] if bare["rps"] else 0.0
        if args.profile:
            graphs = profile(host, args.users, args.seconds, cpu, args.profile)
            print(f"bench: flame graphs: {', '.join(str(g) for g in graphs) or 'none written'}", flush=True)
        print(f"ratio cached/bare: {ratio:.2f}", flush=True)
        return 0 if not (bare["failures"] or cached["failures"] or paced["failures"]) else 1
    except KeyboardInterrupt:
        print("bench: interrupted; stopping everything it started", file=sys.stderr)
        return 130
    finally:
        stop_server(server)
        stop_all(wd)
        subprocess.run(["rm", "-rf", str(wd)], check=False)


if __name__ == "__main__":
    sys.exit(main())
