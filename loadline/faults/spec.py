"""`--fault SPEC`: what to break, when, and for how long.

    SPEC  = KIND "@" AT [ ":" FOR ]
    KIND  = redis-primary-kill | redis-all-kill | redis-stall | postgres-restart | api-worker-kill
    AT    = seconds after the load starts, FOR = how long the fault lasts: 20s, 1m, 1.5s

After FOR the injector restores what it broke (restarts the killed processes, resumes the
stalled ones), so the environment ends as it started. A kill whose target restores itself
(an API worker, which the server respawns) still has a window: FOR is the span judged as
"during" the fault.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SECONDS = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(ms|s|m)\Z")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0}


@dataclass(frozen=True)
class Kind:
    name: str
    target: str  # "redis" | "postgres" | "api"
    what: str
    default_for_s: float
    # A single-node fault must be absorbed almost entirely (slo.faults.maxErrorRatio); an
    # outage of the source of truth may answer 503 + Retry-After while it lasts.
    outage: bool = False
    single_node: bool = False


KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("redis-primary-kill", "redis", "SIGKILL one Redis primary (the only node when standalone); restart it after FOR",
         default_for_s=10, single_node=True),
    Kind("redis-all-kill", "redis", "SIGKILL every Redis node; restart them after FOR", default_for_s=10),
    Kind("redis-stall", "redis", "SIGSTOP every Redis node; SIGCONT after FOR", default_for_s=3),
    Kind("postgres-restart", "postgres", "SIGKILL PostgreSQL; start it again after FOR (crash recovery)",
         default_for_s=5, outage=True),
    Kind("api-worker-kill", "api", "SIGKILL one API worker process; the server respawns it",
         default_for_s=5, single_node=True),
)}


class FaultSpecError(ValueError):
    """A --fault SPEC that cannot be parsed; the message names the part that is wrong."""


@dataclass(frozen=True)
class FaultSpec:
    text: str
    kind: Kind
    at_s: float
    for_s: float

    @property
    def end_s(self) -> float:
        return self.at_s + self.for_s


def parse_seconds(value: str, part: str, spec: str) -> float:
    m = _SECONDS.match(value)
    if not m:
        raise FaultSpecError(f"--fault '{spec}': {part} '{value}' is not a duration like 20s, 1.5s, 500ms or 1m")
    return float(m.group(1)) * _UNIT[m.group(2)]


def parse_fault(text: str) -> FaultSpec:
    spec = text.strip()
    kind_name, sep, when = spec.partition("@")
    if not sep:
        raise FaultSpecError(f"--fault '{spec}': missing '@AT' (e.g. redis-primary-kill@20s)")
    if kind_name not in KINDS:
        raise FaultSpecError(f"--fault '{spec}': unknown fault '{kind_name}' (known: {', '.join(KINDS)})")
    kind = KINDS[kind_name]
    at_text, colon, for_text = when.partition(":")
    at_s = parse_seconds(at_text, "AT", spec)
    for_s = parse_seconds(for_text, "FOR", spec) if colon else kind.default_for_s
    if for_s <= 0:
        raise FaultSpecError(f"--fault '{spec}': FOR '{for_text}' must be longer than 0")
    return FaultSpec(text=spec, kind=kind, at_s=at_s, for_s=for_s)


def parse_faults(texts: list[str], *, run_s: float) -> list[FaultSpec]:
    """Parse every SPEC; each must end before the load does and none may overlap another."""
    specs = sorted((parse_fault(t) for t in texts), key=lambda s: s.at_s)
    for s in specs:
        if s.end_s >= run_s:
            raise FaultSpecError(
                f"--fault '{s.text}': ends at {s.end_s:g}s but the load lasts {run_s:g}s; "
                "leave time after the fault to judge recovery (or raise --duration)")
    for a, b in zip(specs, specs[1:], strict=False):
        if b.at_s < a.end_s:
            raise FaultSpecError(f"--fault '{b.text}': starts at {b.at_s:g}s, inside '{a.text}' "
                                 f"(which lasts until {a.end_s:g}s); faults run one at a time")
    return specs
