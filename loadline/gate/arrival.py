"""Load as a target arrival rate: how many paced users offer it, and whether they did.

Locust has no true open-model executor, so the gate approximates one the way
Locust documents (`constant_throughput`): each user fires one request per pacing
interval, and there are `rps * interval` users. A user only falls behind when
an answer takes longer than its interval, so the interval is a multiple of the
p95 target: the offered rate holds while the server is anywhere near its
promise, and a server that is far slower shows up as late iterations (the
coordinated-omission exposure, reported in the verdict) instead of silently
lowering the load.

The plan is computed here, without Locust, so that a plan the generator cannot
carry is refused before any load is sent.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from loadtests.stages import stages

# Pacing interval = this many p95 targets: room for an answer 4x slower than promised.
HEADROOM = 4.0
# Tighter than this a user's own scheduling jitter dominates (50 ms = 20 requests/s).
MIN_INTERVAL_S = 0.05
# Above this a user's pacing interval adds little headroom and many idle connections.
MAX_INTERVAL_S = 1.0
# A generator that delivered less than this share of what its users offered did not keep up.
KEEP_UP_RATIO = 0.95
# More late iterations than this and the server, not the generator, set the rate.
MAX_LATE_RATIO = 0.05
# Users per Locust process beyond which one process is known to lag its schedule here.
MAX_USERS_PER_PROCESS = 1000
# Locust warns that spawning faster than this per process "is known to cause issues".
MAX_SPAWN_PER_PROCESS = 100
# Closed-model users wait 50-250 ms between requests (the suite's `between`): at best
# one request per 150 ms each, on a server that answers instantly.
CLOSED_MEAN_WAIT_S = 0.15


class PlanError(ValueError):
    """The load asked for cannot be offered by this generator; the gate cannot run (exit 2)."""


@dataclass(frozen=True)
class ArrivalPlan:
    """What the gate will offer: a target rate (open) or a number of users (closed)."""

    model: str  # "open" or "closed"
    users: int  # peak users
    target_rps: float | None  # open model: peak arrival rate
    per_user_rps: float | None  # open model: each user's pacing
    stages: list[dict[str, Any]]  # Locust stages: cumulative `duration`, `users`, `spawn_rate`

    @property
    def duration_s(self) -> int:
        return int(self.stages[-1]["duration"])

    def offered_requests(self) -> float | None:
        """Requests the paced users offer over the run, spawn ramps included (open model only)."""
        if self.per_user_rps is None:
            return None
        user_seconds, t0, current = 0.0, 0, 0
        for stage in self.stages:
            length = stage["duration"] - t0
            target = stage["users"]
            ramp = min(length, abs(target - current) / stage["spawn_rate"])
            # Linear ramp from `current` to `target` over `ramp` s, then flat at `target`.
            user_seconds += ramp * (current + target) / 2 + (length - ramp) * target
            t0, current = stage["duration"], target
        return user_seconds * self.per_user_rps

    def offered_rps(self) -> float | None:
        offered = self.offered_requests()
        return None if offered is None else offered / self.duration_s

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def pacing_interval(p95_target_ms: float) -> float:
    return min(MAX_INTERVAL_S, max(MIN_INTERVAL_S, HEADROOM * p95_target_ms / 1000))


def plan(*, shape: str, duration_s: int, p95_target_ms: float, rps: float | None = None,
         users: int | None = None, spawn_rate: float | None = None, min_rps: float = 0.0,
         processes: int = 1) -> ArrivalPlan:
    """The users and stages that offer `rps` (open model) or run `users` (closed model).

    Raises PlanError when the generator cannot offer what is asked: too many users for
    its processes, or (closed model) too few users to ever reach `min_rps`.
    """
    if (rps is None) == (users is None):
        raise PlanError("give either a target rate (rps) or a number of users, not both")
    if rps is not None:
        interval = pacing_interval(p95_target_ms)
        per_user = 1 / interval
        peak = max(1, math.ceil(rps * interval))
        # Everyone starts at once, as fast as Locust spawns safely: the ramp is counted in
        # the offered load, and the users' random phases keep them from firing together.
        spawn = float(min(peak, MAX_SPAWN_PER_PROCESS * processes))
        stage_list = stages(shape, users=peak, spawn_rate=spawn, duration_s=duration_s)
        _check_processes(peak, processes)
        return ArrivalPlan("open", peak, float(rps), per_user, stage_list)
    assert users is not None and spawn_rate is not None
    ceiling = users / CLOSED_MEAN_WAIT_S
    if ceiling < min_rps:
        raise PlanError(
            f"too few users: {users} users waiting 50-250 ms between requests offer at most "
            f"~{ceiling:.0f} rps, below the throughput target {min_rps:g} rps; set load.rps "
            f"(an arrival rate) or more users")
    _check_processes(users, processes)
    return ArrivalPlan("closed", users, None, None,
                       stages(shape, users=users, spawn_rate=spawn_rate, duration_s=duration_s))


def _check_processes(users: int, processes: int) -> None:
    if users > MAX_USERS_PER_PROCESS * processes:
        raise PlanError(
            f"{users} users need at least {math.ceil(users / MAX_USERS_PER_PROCESS)} load "
            f"generator processes ({MAX_USERS_PER_PROCESS} users each); this run has {processes} "
            "(--workers N)")


@dataclass(frozen=True)
class GeneratorReport:
    """What the generator itself observed: its CPU warnings and its pacing."""

    cpu_warning: bool
    iterations: int
    late_iterations: int
    # Iterations the paced users were due over the time they really lived (0: not reported).
    due_iterations: float = 0.0

    @property
    def late_ratio(self) -> float:
        return self.late_iterations / self.iterations if self.iterations else 0.0


def due_from_history(history: list[dict[str, Any]], per_user_rps: float | None) -> float:
    """Iterations the running users were due, from the master's per-second samples of its
    user count (`t` seconds since start, `users`): users x rate x time, step by step."""
    if not per_user_rps:
        return 0.0
    due, last_t = 0.0, 0.0
    for sample in history:
        t = float(sample["t"])
        due += float(sample["users"]) * per_user_rps * max(0.0, t - last_t)
        last_t = t
    return due


def offered_requests(plan_: ArrivalPlan, generator: GeneratorReport) -> float | None:
    """What the paced users offered: what they were due while they lived (a user spawned
    late offered less, and so did the generator), else the plan's figure."""
    if plan_.per_user_rps is None:
        return None
    return generator.due_iterations or plan_.offered_requests()


def keep_up(plan_: ArrivalPlan, requests: int, generator: GeneratorReport, *,
            faulted: bool = False) -> str | None:
    """Why the run did not offer its load (the gate exits 2), or None when it did.

    A shortfall with many late iterations is the server's doing (its answers outlasted
    the pacing interval) and is judged as a throughput and latency miss, not refused.
    In a run with injected faults only the CPU warning counts: a killed worker or a
    restarting database holds a few users for seconds each, which cuts the requests sent
    while hardly any iteration is late, so the totals cannot tell that shortfall from a
    generator that fell behind. The fault section judges those windows instead.
    """
    if generator.cpu_warning:
        return ("the load generator ran out of CPU (Locust's warning above 90 %): its timings "
                "are not trustworthy; run more worker processes (--workers N) or on a larger machine")
    if faulted:
        return None
    # Users that started late offered less: `offered_rps` in the verdict shows it, and the
    # throughput target judges it. What is refused here is a generator that fell behind
    # the schedule of the users it had.
    due = offered_requests(plan_, generator)
    if due is None or due <= 0:
        return None
    ratio = requests / due
    if ratio < KEEP_UP_RATIO and generator.late_ratio <= MAX_LATE_RATIO:
        return (f"the load generator sent {requests / plan_.duration_s:.0f} of the "
                f"{due / plan_.duration_s:.0f} rps its users were due ({ratio:.0%}, below {KEEP_UP_RATIO:.0%}) "
                f"while the server answered within the pacing interval: the generator could not "
                "keep up; run more worker processes (--workers N) or a lower load.rps")
    return None


def shortfall_failure(plan_: ArrivalPlan, requests: int, generator: GeneratorReport) -> str | None:
    """A failure sentence when the server's slowness cut the offered rate (open model)."""
    offered = offered_requests(plan_, generator)
    if offered is None or offered <= 0:
        return None
    ratio = requests / offered
    if ratio < KEEP_UP_RATIO and generator.late_ratio > MAX_LATE_RATIO and plan_.per_user_rps:
        return (f"overall: the server held back the load: {generator.late_ratio:.0%} of iterations "
                f"outlasted the {1 / plan_.per_user_rps * 1000:.0f} ms pacing interval, so only "
                f"{ratio:.0%} of the offered requests were sent; latencies above are a lower bound")
    return None
