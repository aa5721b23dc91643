"""The gate's verdict: one typed object from the decision to every output.

`Verdict` is built once from the targets, the complete statistics and the
decision; `verdict.json`, the terminal summary, the Markdown and the plot all
read it. Its JSON shape is an interface (users' CI parses it), published as
`docs/verdict.schema.json` and generated from this module:

    python -m loadline.gate.verdict > docs/verdict.schema.json

`SCHEMA_VERSION` changes only when a key changes meaning or disappears; a new
key is added with the version unchanged, so a consumer reads the keys it knows.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator

from loadline.gate.alerts import AlertsReport
from loadline.gate.decision import Decision, EndpointStats, RunStats, Targets
from loadline.gate.fault_report import FaultReport
from loadline.gate.sections import Number, Ratio, Section

SCHEMA_VERSION: Literal[1] = 1
SCHEMA_ID = "https://github.com/loadline/loadline/blob/main/docs/verdict.schema.json"
SCHEMA_PATH = Path(__file__).resolve().parents[2] / "docs" / "verdict.schema.json"


class TargetsResult(Section):
    """The targets applied: the profile's values after command-line overrides."""

    p95_ms: Number = Field(description="p95 latency limit, ms (whole run and every endpoint)")
    min_rps: Number = Field(description="minimum throughput of the whole run, requests/s")
    max_error_ratio: Ratio = Field(description="maximum failed/total of the whole run")
    p99_ms: Number | None = Field(None, description="p99 latency limit, ms; null when the profile sets none")

    @classmethod
    def of(cls, targets: Targets) -> TargetsResult:
        return cls(p95_ms=targets.p95_ms, min_rps=targets.min_rps,
                   max_error_ratio=targets.max_error_ratio, p99_ms=targets.p99_ms)


class Measured(Section):
    """Totals of the whole run."""

    p50_ms: Number
    p95_ms: Number
    p99_ms: Number
    rps: Number = Field(description="requests / run time, rounded to 0.01")
    error_ratio: Ratio = Field(description="failed / total, rounded to 1e-6")
    requests: int = Field(ge=0)
    failures: int = Field(ge=0, description="failed requests (a wrong body counts as failed)")

    @model_validator(mode="before")
    @classmethod
    def _count_failures(cls, data: object) -> object:
        # verdict.json written before `failures` was added still reads (same arithmetic as then).
        if isinstance(data, dict) and "failures" not in data and {"error_ratio", "requests"} <= data.keys():
            return {**data, "failures": round(data["error_ratio"] * data["requests"])}
        return data

    @classmethod
    def of(cls, stats: EndpointStats) -> Measured:
        return cls(p50_ms=stats.p50_ms, p95_ms=stats.p95_ms, p99_ms=stats.p99_ms,
                   rps=round(stats.rps, 2), error_ratio=round(stats.error_ratio, 6),
                   requests=stats.requests, failures=stats.failures)


class EndpointResult(Section):
    """One request name's statistics."""

    requests: int = Field(ge=0)
    failures: int = Field(ge=0)
    p50_ms: Number
    p95_ms: Number
    p99_ms: Number
    rps: Number
    error_ratio: Ratio

    @classmethod
    def of(cls, stats: EndpointStats) -> EndpointResult:
        return cls(**stats.as_dict())


class LoadResult(Section):
    """The load offered next to the load achieved, and how the generator fared."""

    model: Literal["open", "closed"] = Field(
        description="open: an arrival rate (load.rps); closed: users that wait for each answer (load.users)")
    target_rps: Number | None = Field(description="the peak arrival rate asked for; null in the closed model")
    offered_rps: Number | None = Field(
        description="what the paced users were due over the time they ran (spawn included), per second of the "
                    "planned run; null in the closed model")
    achieved_rps: Number = Field(description="requests sent / planned run length")
    users: int = Field(ge=0, description="peak users")
    per_user_rps: Number | None = Field(description="each user's pacing; null in the closed model")
    duration_s: int = Field(ge=0, description="planned run length, s")
    warmup_s: int = Field(0, ge=0, description="first seconds of the load not judged for p95/p99 (load.warmupSeconds)")
    workers: int = Field(ge=0, description="Locust worker processes under a master; 0: one process")
    generator_cpu_warning: bool = Field(description="Locust warned of a generator process above 90 % CPU")
    late_ratio: Ratio = Field(
        description="share of paced iterations whose answer outlasted the pacing interval")


class ServerRoute(Section):
    """One route's figures as the server recorded them."""

    requests: Number = Field(description="requests Prometheus counted in the window")
    http_5xx: Number
    p95_ms: Number | None = Field(description="from the http_request_duration_seconds buckets, interpolated")
    p99_ms: Number | None


class ServerAlert(Section):
    alertname: str
    severity: str


class ServerResult(Section):
    """The server's own evidence from its Prometheus over the run's window, next to the client's."""

    available: bool = Field(description="Prometheus was asked and answered; false: `reason` says why not")
    reason: str | None = Field(None, description="why there is no evidence; null when available")
    prometheus_url: str | None = None
    window_start: Number | None = Field(None, description="epoch seconds")
    window_end: Number | None = Field(None, description="epoch seconds: the first scrape after the load")
    requests: Number | None = None
    p95_ms: Number | None = None
    p99_ms: Number | None = None
    error_5xx_ratio: Ratio | None = None
    cache_hit_ratio: Ratio | None = Field(None, description="cache hits / lookups; null when none")
    cache_hit_ratio_target: Ratio | None = Field(
        None, description="the minimum applied (slo.cacheHitRatio or --cache-hit-ratio); null: not judged")
    cache_lookups: Number | None = None
    pool_saturation_max: Number | None = Field(
        None, description="PostgreSQL pool: max of connections in use / pool size over the window")
    pool_saturation_mean: Number | None = None
    per_route: dict[str, ServerRoute] = Field(default_factory=dict, description='"METHOD route template"')
    alerts_fired: list[ServerAlert] = Field(default_factory=list)
    failures: list[str] = Field(default_factory=list, description="the server-side targets missed")


class BaselineRow(Section):
    metric: Literal["p95_ms", "rps"]
    baseline: Number
    current: Number
    change_percent: Number | None = Field(description="(current - baseline) / baseline x 100")
    p_value: Number | None = Field(
        description="one-sided Mann-Whitney U: latencies larger, or per-second throughput smaller, than the baseline's")
    regressed: bool = Field(description="worse beyond max_regression_percent and p < alpha")


class BaselineResult(Section):
    """This run against a saved baseline (--baseline)."""

    path: str
    saved_at: str
    alpha: Number
    max_regression_percent: Number
    rows: list[BaselineRow]
    failures: list[str]


class Verdict(Section):
    """What `loadline loadtest` decided, and from what."""

    model_config = ConfigDict(title="loadline gate verdict")

    schema_version: Literal[1] = Field(SCHEMA_VERSION, alias="schemaVersion", title="Schema version",
                                       description="shape version of this document")
    stack: str = Field(description="the stack whose targets were applied")
    host: str = Field(description="the API base URL that was loaded")
    passed: bool = Field(description="every target met; the exit code is 0 exactly when true")
    targets: TargetsResult
    measured: Measured
    per_endpoint: dict[str, EndpointResult] = Field(
        description='the same per request name, "METHOD name"')
    failures: list[str] = Field(
        description="one sentence per missed target (the fault's included), then (on a failed run) "
                    "the most frequent request errors")
    fault: FaultReport | None = Field(
        None, description="the faults injected during the run (--fault) and their figures; null without")
    alerts: AlertsReport | None = Field(
        None, description="the alerts Alertmanager notified during the run; null when the gate had no "
                          "receiver (a host other than the local environment)")
    load: LoadResult | None = Field(None, description="offered and achieved load; null in verdicts written before it")
    server: ServerResult | None = Field(
        None, description="the server's own evidence (Prometheus); null in verdicts written before it")
    baseline: BaselineResult | None = Field(None, description="the comparison with --baseline; null without")

    @classmethod
    def build(cls, *, stack: str, host: str, targets: Targets, stats: RunStats,
              decision: Decision, error_details: list[str] | None = None,
              fault: FaultReport | None = None, alerts: AlertsReport | None = None,
              load: LoadResult | None = None, server: ServerResult | None = None,
              baseline: BaselineResult | None = None) -> Verdict:
        fault_failures = fault.failures if fault is not None else []
        server_failures = [*(server.failures if server is not None else []),
                           *(baseline.failures if baseline is not None else [])]
        return cls(stack=stack, host=host, passed=decision.passed and not fault_failures and not server_failures,
                   targets=TargetsResult.of(targets), measured=Measured.of(stats.total),
                   per_endpoint={n: EndpointResult.of(e) for n, e in sorted(stats.endpoints.items())},
                   failures=[*decision.failures, *fault_failures, *server_failures, *(error_details or [])],
                   fault=fault, alerts=alerts, load=load, server=server, baseline=baseline)

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json", by_alias=True), indent=2) + "\n"

    def write(self, path: Path) -> Path:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(self.to_json())
        tmp.replace(path)
        return path

    @classmethod
    def read(cls, path: Path) -> Verdict:
        """Raises OSError or pydantic.ValidationError (a ValueError)."""
        return cls.model_validate_json(path.read_text())


def json_schema() -> dict[str, Any]:
    """The published JSON Schema of verdict.json (draft 2020-12)."""
    schema = Verdict.model_json_schema(mode="serialization", by_alias=True)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


def schema_text() -> str:
    return json.dumps(json_schema(), indent=2) + "\n"


if __name__ == "__main__":
    sys.stdout.write(schema_text())
