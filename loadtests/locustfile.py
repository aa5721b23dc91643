"""The events API under a realistic mix, every response judged by its body.

Run by `loadline loadtest` (which seeds the data and passes the stages), or by
hand: `locust -f loadtests/locustfile.py --host http://127.0.0.1:8000` with
LOADLINE_API_KEY set (the data is then seeded at test start).

Environment: LOADLINE_STAGES (JSON stages list, see loadtests/stages.py),
LOADLINE_PACING (requests/s per user: an arrival-rate load; unset: users think 50-250 ms),
LOADLINE_API_KEY (or LOADLINE_API_KEY_FILE: a file holding it, such as a mounted Secret),
LOADLINE_SEED_FILE (seed.json from the gate), LOADLINE_STATS_OUT
(where the complete statistics are written when Locust quits), LOADLINE_START_FILE
(written with the epoch time when the load starts, so the gate can time its faults),
LOADLINE_CREATED_OUT (the id of every create answered 201, one a line, so the gate can
read each acknowledged write back after the run), LOADLINE_STATS_STDOUT (also print the
statistics as one `LOADLINE-STATS {json}` line, for a master whose files are out of reach,
such as a Job in a cluster).
"""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path

import gevent
from locust import FastHttpUser, LoadTestShape, User, between, events, task
from locust.runners import MasterRunner, WorkerRunner

from loadtests.abort import AbortRule
from loadtests.events_api import (
    CREATE,
    GET,
    SEARCH,
    SEARCH_LIMIT,
    check_created,
    check_event,
    check_search,
    cold_window,
    new_event,
)
from loadtests.pacing import Pacer
from loadtests.seed import seed
from loadtests.stages import stages
from loadtests.timeline import Timeline

STAGES = json.loads(os.environ.get("LOADLINE_STAGES") or "null") or stages(
    "steady", users=10, spawn_rate=5, duration_s=30)


def _api_key() -> str:
    """LOADLINE_API_KEY, or the first key in the file LOADLINE_API_KEY_FILE names (a mounted Secret)."""
    if os.environ.get("LOADLINE_API_KEY"):
        return os.environ["LOADLINE_API_KEY"]
    path = os.environ.get("LOADLINE_API_KEY_FILE")
    return Path(path).read_text().split(",")[0].strip() if path else ""


API_KEY = _api_key()
PACER = Pacer(float(os.environ["LOADLINE_PACING"])) if os.environ.get("LOADLINE_PACING") else None
SEED: dict = {}
HISTORY: list[dict] = []
# --abort-on-fail: the targets a run may clearly lose before it is stopped, and why it was.
ABORT_RULE = AbortRule(**json.loads(os.environ["LOADLINE_ABORT"])) if os.environ.get("LOADLINE_ABORT") else None
ABORTED: dict = {}
# Workers report every few seconds: a second is judged once its reports are in.
REPORT_LAG_S = 4
TIMELINE = Timeline()
CREATED_OUT = os.environ.get("LOADLINE_CREATED_OUT")
# Pacing counts the workers reported to this master: [iterations, late, due].
WORKER_PACING = [0.0, 0.0, 0.0]


@events.test_start.add_listener
def _load_seed(environment, **_kw):
    if os.environ.get("LOADLINE_SEED_FILE"):
        SEED.update(json.loads(Path(os.environ["LOADLINE_SEED_FILE"]).read_text()))
    elif not SEED and not isinstance(environment.runner, MasterRunner):
        # Without a seed file (in a cluster) each process that sends load seeds its own
        # events; a master sends none, so it needs no data and no route to the API.
        SEED.update(seed(environment.host.rstrip("/"), API_KEY))
    if not isinstance(environment.runner, WorkerRunner):
        gevent.spawn(_sample_history, environment)
        if ABORT_RULE is not None:
            gevent.spawn(_watch_for_abort, environment)
        if os.environ.get("LOADLINE_START_FILE"):
            with open(os.environ["LOADLINE_START_FILE"] + ".tmp", "w") as f:
                f.write(f"{time.time():.3f}\n")
            os.replace(os.environ["LOADLINE_START_FILE"] + ".tmp", os.environ["LOADLINE_START_FILE"])


@events.request.add_listener
def _on_request(response_time, request_type=None, name=None, response=None, exception=None,
                start_time=None, **_kw):
    status = getattr(response, "status_code", None) if response is not None else None
    headers = getattr(response, "headers", None) or {}
    TIMELINE.add(start_time=start_time or time.time(), response_time_ms=response_time or 0,
                 failed=exception is not None, status=status or None,
                 retry_after=bool(headers.get("Retry-After")) if status == 503 else False,
                 endpoint=f"{request_type} {name}" if name else None)


def _watch_for_abort(environment) -> None:
    """On the master: stop the run once a target is clearly lost."""
    assert ABORT_RULE is not None
    started = time.time()
    runner = environment.runner
    while runner.state not in ("stopped", "stopping"):
        gevent.sleep(1)
        now = int(time.time()) - REPORT_LAG_S
        reason = ABORT_RULE.check(TIMELINE.as_list(), now)
        if reason:
            ABORTED.update(reason=reason, at_s=round(time.time() - started, 1))
            runner.quit()
            return


def _sample_history(environment) -> None:
    """One point a second for the gate's plot (Locust's own history has no p99)."""
    start = last_t = time.monotonic()
    runner = environment.runner
    last_n = 0
    while runner.state not in ("stopped", "stopping"):
        total = runner.stats.total
        now, n = time.monotonic(), total.num_requests
        HISTORY.append({
            "t": round(now - start, 1), "users": runner.user_count,
            "rps": round((n - last_n) / (now - last_t), 2) if now > last_t else 0.0,
            "p50_ms": total.get_current_response_time_percentile(0.5) or 0,
            "p95_ms": total.get_current_response_time_percentile(0.95) or 0,
            "p99_ms": total.get_current_response_time_percentile(0.99) or 0,
        })
        last_t, last_n = now, n
        gevent.sleep(1)


def _entry(e) -> dict:
    return {"method": e.method or "", "name": e.name, "requests": e.num_requests,
            "failures": e.num_failures, "p50_ms": e.get_response_time_percentile(0.5),
            "p95_ms": e.get_response_time_percentile(0.95),
            "p99_ms": e.get_response_time_percentile(0.99), "rps": e.total_rps}


@events.report_to_master.add_listener
def _report_to_master(client_id, data, **_kw):
    """A worker's pacing counts and timeline since its last report; the master judges them all."""
    if PACER is not None:
        data["loadline_pacing"] = PACER.take_counts()
    data["loadline_timeline"] = TIMELINE.take()


@events.worker_report.add_listener
def _collect_worker_report(client_id, data, **_kw):
    for i, n in enumerate(data.get("loadline_pacing", (0, 0, 0.0))):
        WORKER_PACING[i] += n
    TIMELINE.absorb(data.get("loadline_timeline", []))


def _generator(runner) -> dict:
    own = PACER.take_counts() if PACER is not None else (0, 0, 0.0)
    for i, n in enumerate(own):
        WORKER_PACING[i] += n
    return {"cpu_warning": bool(runner.cpu_warning_emitted or runner.worker_cpu_warning_emitted),
            "iterations": int(WORKER_PACING[0]), "late_iterations": int(WORKER_PACING[1]),
            "due_iterations": round(WORKER_PACING[2], 1)}


@events.quitting.add_listener
def _write_complete_stats(environment, **_kw):
    """After the last request, on the master only: the statistics the gate judges."""
    out = os.environ.get("LOADLINE_STATS_OUT")
    if not (out or os.environ.get("LOADLINE_STATS_STDOUT")) or isinstance(environment.runner, WorkerRunner):
        return
    stats = environment.runner.stats
    data = {
        "total": _entry(stats.total),
        "endpoints": [_entry(e) for e in stats.entries.values()],
        "errors": [{"method": e.method, "name": e.name, "error": str(e.error),
                    "occurrences": e.occurrences} for e in stats.errors.values()],
        "history": HISTORY,
        "aborted": ABORTED or None,
        "timeline": TIMELINE.as_list(),
        "generator": _generator(environment.runner),
        # The whole latency distribution (ms -> requests) and requests per second: the
        # samples a baseline comparison tests.
        "response_times": {str(k): v for k, v in sorted(stats.total.response_times.items())},
        "reqs_per_sec": {str(k): v for k, v in sorted(stats.total.num_reqs_per_sec.items())},
        "start_time": stats.total.start_time,
        "last_request_time": stats.total.last_request_timestamp,
    }
    if out:
        with open(out + ".tmp", "w") as f:
            json.dump(data, f)
        os.replace(out + ".tmp", out)
    if os.environ.get("LOADLINE_STATS_STDOUT"):
        print("LOADLINE-STATS " + json.dumps(data), flush=True)
    # The gate decides the exit code from these statistics, not Locust.
    environment.process_exit_code = 0


def _paced(user: User) -> float:
    assert PACER is not None
    now = PACER.clock()
    wait = PACER.wait(getattr(user, "_iteration_start", now))
    user._iteration_start = now + wait  # type: ignore[attr-defined]
    return wait


class EventsUser(FastHttpUser):
    """A mix of dashboards (hot searches), drill-downs (cold searches, gets) and writers."""

    # An arrival rate paces each user; without one, users think 50-250 ms (closed model).
    wait_time = between(0.05, 0.25) if PACER is None else _paced

    def on_start(self) -> None:
        if PACER is not None:
            self._alive_since = PACER.clock()
            gevent.sleep(PACER.first_delay())
            self._iteration_start = PACER.clock()

    def on_stop(self) -> None:
        if PACER is not None and hasattr(self, "_alive_since"):
            PACER.user_stopped(self._alive_since)

    def _json(self, resp):
        try:
            return resp.json()
        except ValueError:
            resp.failure(f"body is not JSON: {resp.text[:200] if resp.text else ''}")
            return None

    @task(5)
    def search_hot(self):
        start, end = SEED["hot_window"]
        params = {"starts_at": start, "ends_at": end, "limit": SEARCH_LIMIT}
        with self.client.get(SEARCH, params=params, name=f"{SEARCH} (hot window)",
                             catch_response=True) as resp:
            self._judge(resp, lambda b: check_search(b, start, end, expect_items=True))

    @task(2)
    def search_cold(self):
        start, end = cold_window(random.choice(SEED["cold_times"]))
        params = {"starts_at": start, "ends_at": end, "limit": SEARCH_LIMIT}
        with self.client.get(SEARCH, params=params, name=f"{SEARCH} (cold window)",
                             catch_response=True) as resp:
            self._judge(resp, lambda b: check_search(b, start, end, expect_items=True))

    @task(4)
    def get_by_id(self):
        event_id = random.choice(SEED["ids"])
        with self.client.get(GET.format(event_id=event_id), name=GET, catch_response=True) as resp:
            self._judge(resp, lambda b: check_event(b, event_id))

    @task(1)
    def create(self):
        body = new_event()
        with self.client.post(CREATE, json=body, headers={"X-API-Key": API_KEY}, name=CREATE,
                              catch_response=True) as resp:
            self._judge(resp, lambda b: check_created(b, body), ok=(201,))
        if resp.status_code == 201 and CREATED_OUT:
            try:
                created_id = resp.json().get("id")
            except (ValueError, AttributeError):
                created_id = None
            if created_id:
                # Appended and flushed at once: an acknowledged write is on record even if Locust is killed.
                with open(CREATED_OUT, "a") as f:
                    f.write(f"{created_id}\n")

    def _judge(self, resp, check, ok=(200,)):
        if resp.status_code not in ok:
            resp.failure(f"status {resp.status_code}: {(resp.text or '')[:200]}")
            return
        body = self._json(resp)
        if body is None:
            return
        problem = check(body)
        if problem:
            resp.failure(problem)
        else:
            resp.success()


class StagesShape(LoadTestShape):
    """Follows STAGES (cumulative `duration` seconds, `users`, `spawn_rate`), then stops."""

    stages = STAGES

    def tick(self):
        run_time = self.get_run_time()
        for stage in self.stages:
            if run_time < stage["duration"]:
                return stage["users"], stage["spawn_rate"]
        return None
