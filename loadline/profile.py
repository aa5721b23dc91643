"""The environment profile: one typed object per stack.

A stack's whole configuration is one value, ``loadline:profile`` in
``stacks/Pulumi.<stack>.yaml``. The same object sizes the deployment (replicas,
HPA bounds, resources, Redis shards, Postgres storage) and states the promises
(p95, throughput, error ratio) that the load gate and the alert rules enforce.

Keys are camelCase in YAML (Pulumi's convention) and snake_case in Python.
Unknown keys are errors: a typo must never pass silently.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel
from pydantic_core import ErrorDetails

from loadline.core import PROFILE_KEY as PROFILE_KEY
from loadline.core import REPO_ROOT as REPO_ROOT
from loadline.core import STACKS_DIR as STACKS_DIR
from loadline.core import Environment

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}\Z")
# Third-party images by the names `images.digests` takes (the table is components/images.py).
IMAGE_NAMES = ("redis", "postgres", "redisExporter", "postgresExporter", "prometheus", "grafana",
               "kubeStateMetrics", "locust")


def _digest(value: str) -> str:
    if not _DIGEST.match(value):
        raise ValueError(f"'{value}' is not a digest: expected sha256: and 64 lowercase hex digits "
                         "(`crane digest IMAGE:TAG`)")
    return value
_CPU = re.compile(r"^([0-9]+m|[0-9]+(\.[0-9]+)?)\Z")
_MEMORY = re.compile(r"^[0-9]+(Ki|Mi|Gi|Ti|K|M|G|T)?\Z")
_DURATION = re.compile(r"^([0-9]+)(s|m|h)\Z")
_CRON = re.compile(r"^(\S+\s+){4}\S+\Z")
_MEMORY_FACTORS = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
                   "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


class ProfileError(ValueError):
    """An invalid profile. The message names the stack, each bad key and why."""

    def __init__(self, stack: str, problems: list[tuple[str, str]]):
        self.stack = stack
        self.problems = problems
        lines = [f"{key}: {reason}" for key, reason in problems]
        if len(lines) == 1:
            msg = f"invalid profile for stack '{stack}': {lines[0]}"
        else:
            msg = f"invalid profile for stack '{stack}' ({len(lines)} problems):\n  " + "\n  ".join(lines)
        super().__init__(msg)


def cpu_millicores(value: str) -> int:
    """'250m' -> 250, '1.5' -> 1500."""
    return int(value[:-1]) if value.endswith("m") else int(round(float(value) * 1000))


def memory_bytes(value: str) -> int:
    """'256Mi' -> 268435456."""
    m = re.match(r"^([0-9]+)([A-Za-z]*)$", value)
    assert m, value
    return int(m.group(1)) * _MEMORY_FACTORS[m.group(2)]


def duration_seconds(value: str) -> int:
    """'90s' -> 90, '5m' -> 300, '24h' -> 86400."""
    m = _DURATION.match(value)
    if not m:
        raise ValueError(f"'{value}' is not a duration like 30s, 5m or 24h")
    return int(m.group(1)) * {"s": 1, "m": 60, "h": 3600}[m.group(2)]


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True
    )


class Quantities(_Model):
    cpu: str = Field(description="CPU quantity, e.g. 250m or 1")
    memory: str = Field(description="memory quantity, e.g. 256Mi")

    @field_validator("cpu")
    @classmethod
    def _cpu(cls, v: str) -> str:
        if not _CPU.match(v):
            raise ValueError(f"'{v}' is not a CPU quantity like 250m or 1.5")
        return v

    @field_validator("memory")
    @classmethod
    def _memory(cls, v: str) -> str:
        if not _MEMORY.match(v):
            raise ValueError(f"'{v}' is not a memory quantity like 256Mi or 1Gi")
        return v


class Resources(_Model):
    requests: Quantities
    limits: Quantities

    @model_validator(mode="after")
    def _requests_within_limits(self) -> Resources:
        if cpu_millicores(self.requests.cpu) > cpu_millicores(self.limits.cpu):
            raise ValueError(f"requests.cpu {self.requests.cpu} exceeds limits.cpu {self.limits.cpu}")
        if memory_bytes(self.requests.memory) > memory_bytes(self.limits.memory):
            raise ValueError(
                f"requests.memory {self.requests.memory} exceeds limits.memory {self.limits.memory}")
        return self


class Image(_Model):
    repository: str = Field(description="image repository, e.g. ghcr.io/loadline/events-api")
    tag: str = Field(description="pinned version tag; 'latest' is refused")
    build: bool = Field(False, description="build the image from app/ with pulumi-docker")
    digest: str | None = Field(None, description="sha256:... the tag points at; deployed as repository:tag@digest")

    @field_validator("tag")
    @classmethod
    def _pinned(cls, v: str) -> str:
        if not v or v == "latest":
            raise ValueError("must be a pinned version, not 'latest' or empty")
        return v

    @field_validator("digest")
    @classmethod
    def _sha256(cls, v: str | None) -> str | None:
        return v if v is None else _digest(v)

    @property
    def ref(self) -> str:
        return f"{self.repository}:{self.tag}" + (f"@{self.digest}" if self.digest else "")


class Images(_Model):
    digests: dict[str, str] = Field(
        default_factory=dict, description="third-party image name (redis, postgres, ...) -> sha256:... digest")
    unpinned_reason: str | None = Field(
        None, description="why images without a digest may deploy for now; exempts them from image-digests")

    @field_validator("digests")
    @classmethod
    def _known(cls, v: dict[str, str]) -> dict[str, str]:
        for name, digest in v.items():
            if name not in IMAGE_NAMES:
                raise ValueError(f"'{name}' is no image of the stack (one of: {', '.join(IMAGE_NAMES)})")
            _digest(digest)
        return v

    @field_validator("unpinned_reason")
    @classmethod
    def _reason(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            raise ValueError("must say why, or be left out")
        return v


class ScalingPolicy(_Model):
    stabilization_seconds: int = Field(ge=0, le=3600, description="HPA stabilization window")
    percent: int = Field(ge=1, le=1000, description="max change in percent of current replicas")
    period_seconds: int = Field(60, ge=1, le=1800, description="period the percent applies to")


class Hpa(_Model):
    min_replicas: int = Field(ge=1, le=100)
    max_replicas: int = Field(ge=1, le=100)
    cpu_target_percent: int = Field(ge=10, le=95)
    scale_up: ScalingPolicy
    scale_down: ScalingPolicy

    @model_validator(mode="after")
    def _bounds(self) -> Hpa:
        if self.max_replicas < self.min_replicas:
            raise ValueError(
                f"maxReplicas ({self.max_replicas}) must be >= minReplicas ({self.min_replicas})")
        return self


class RateLimit(_Model):
    per_second: float = Field(gt=0, le=100000, description="sustained requests per second per key")
    burst: int = Field(ge=1, le=100000, description="bucket size")


class Cache(_Model):
    event_ttl_seconds: int = Field(ge=1, le=86400, description="Redis (L2) lifetime of an event read by id")
    search_ttl_seconds: int = Field(ge=1, le=86400, description="Redis (L2) lifetime of a search page; "
                                                              "a write that can change it invalidates it sooner")
    l1_size: int = Field(ge=1, le=1_000_000, description="entries in each worker's in-process cache (L1)")
    l1_ttl_seconds: float = Field(gt=0, le=3600, description="lifetime of an L1 entry: bounds how long a "
                                                            "worker serves a changed page when an invalidation "
                                                            "cannot reach it")

    @model_validator(mode="after")
    def _l1_within_l2(self) -> Cache:
        if self.l1_ttl_seconds > min(self.event_ttl_seconds, self.search_ttl_seconds):
            raise ValueError(f"l1TtlSeconds ({self.l1_ttl_seconds:g}) must be at most eventTtlSeconds and "
                             "searchTtlSeconds: an L1 entry must not outlive the Redis one")
        return self


class Api(_Model):
    workers: int = Field(ge=1, le=32, description="server worker processes per pod")
    hpa: Hpa
    resources: Resources
    cache: Cache
    rate_limit: RateLimit

    @model_validator(mode="before")
    @classmethod
    def _replaced_keys(cls, data: Any) -> Any:
        if isinstance(data, dict) and "cacheTtlSeconds" in data:
            raise ValueError("api.cacheTtlSeconds is replaced by api.cache: set api.cache.eventTtlSeconds, "
                             "searchTtlSeconds, l1Size and l1TtlSeconds instead (docs/profile.md)")
        return data


class Persistence(_Model):
    enabled: bool
    size: str = "1Gi"
    storage_class: str | None = None

    @field_validator("size")
    @classmethod
    def _size(cls, v: str) -> str:
        if not _MEMORY.match(v):
            raise ValueError(f"'{v}' is not a storage quantity like 10Gi")
        return v


class Redis(_Model):
    mode: Literal["standalone", "cluster"]
    shards: int = Field(1, ge=1, le=64, description="masters; cluster mode needs at least 3")
    replicas_per_shard: int = Field(0, ge=0, le=5)
    persistence: Persistence
    resources: Resources

    @model_validator(mode="after")
    def _topology(self) -> Redis:
        if self.mode == "cluster" and self.shards < 3:
            raise ValueError(f"cluster mode needs shards >= 3 (Redis Cluster minimum), got {self.shards}")
        if self.mode == "standalone" and (self.shards != 1 or self.replicas_per_shard != 0):
            raise ValueError("standalone mode takes shards: 1 and replicasPerShard: 0")
        return self

    @property
    def nodes(self) -> int:
        return self.shards * (1 + self.replicas_per_shard)


class PostgresTuning(_Model):
    max_connections: int = Field(ge=10, le=5000)
    shared_buffers: str
    effective_cache_size: str
    work_mem: str

    @field_validator("shared_buffers", "effective_cache_size", "work_mem")
    @classmethod
    def _mem(cls, v: str) -> str:
        if not re.match(r"^[0-9]+(kB|MB|GB)\Z", v):
            raise ValueError(f"{v!r} is not a PostgreSQL memory setting like 128MB")
        return v


class Backup(_Model):
    schedule: str = Field(description="cron schedule of the pg_dump CronJob")
    retention_days: int = Field(ge=1, le=365)

    @field_validator("schedule")
    @classmethod
    def _cron(cls, v: str) -> str:
        if not _CRON.match(v):
            raise ValueError(f"'{v}' is not a 5-field cron schedule")
        return v


class Postgres(_Model):
    mode: Literal["inCluster", "external"]
    storage: Persistence | None = None
    tuning: PostgresTuning | None = None
    backup: Backup | None = None
    resources: Resources | None = None
    external_url_secret: str | None = Field(
        None, description="name of a secure stack config key holding the connection URL")

    @model_validator(mode="after")
    def _mode(self) -> Postgres:
        if self.mode == "inCluster":
            missing = [k for k in ("storage", "tuning", "backup", "resources") if getattr(self, k) is None]
            if missing:
                raise ValueError(f"inCluster mode needs {', '.join(missing)}")
            if self.external_url_secret:
                raise ValueError("externalUrlSecret is only for external mode")
        else:
            if not self.external_url_secret:
                raise ValueError("external mode needs externalUrlSecret (a secure config key)")
            extra = [k for k in ("storage", "tuning", "backup", "resources") if getattr(self, k) is not None]
            if extra:
                raise ValueError(f"external mode takes no {', '.join(extra)}")
        return self


class Monitoring(_Model):
    mode: Literal["bundled", "operator"]
    retention: str = Field("7d", pattern=r"^[0-9]+[hdw]$")
    scrape_interval: str = Field("15s", pattern=r"^[0-9]+[sm]$")
    grafana: bool = True
    operator_release: str | None = Field(
        None, description="value of the `release` label the Prometheus Operator selects")

    @model_validator(mode="after")
    def _operator(self) -> Monitoring:
        if self.mode == "operator" and not self.operator_release:
            raise ValueError("operator mode needs operatorRelease (the label the operator selects)")
        return self


class FaultTargets(_Model):
    """What the gate holds the stack to while it injects a fault (`loadline loadtest --fault`).

    Lost writes are not a setting: an acknowledged write is never lost, whatever the fault.
    """

    max_error_ratio: float = Field(
        0.001, ge=0, le=1,
        description="failed/total from the fault's start until the run ends, for faults the service must absorb")
    max_recovery_seconds: float = Field(
        5, ge=0, le=3600,
        description="from the end of the fault until error ratio and p95 are back under slo targets")


class Slo(_Model):
    p95_ms: float = Field(gt=0, le=60000)
    p99_ms: float | None = Field(None, gt=0, le=60000)
    min_rps: float = Field(ge=0)
    max_error_ratio: float = Field(ge=0, le=1)
    availability: float = Field(gt=0, lt=1, description="e.g. 0.999; at least 0.931, or the 14.4x burn-rate page could never fire")
    faults: FaultTargets = Field(default_factory=FaultTargets)
    cache_hit_ratio: float | None = Field(
        None, ge=0, le=1, description="minimum server-side cache hits / lookups: judged by the gate over a run, and by a ticket alert over 30m of traffic")
    max_regression_percent: float = Field(
        20, gt=0, le=1000, description="p95 or throughput change against a baseline that fails the gate")

    @field_validator("availability")
    @classmethod
    def _burnable(cls, v: float) -> float:
        # The fastest burn-rate page fires at 14.4x the error budget; with a budget above
        # 1/14.4 that would need more than 100% errors, so the page could never fire.
        if (1 - v) * 14.4 >= 1:
            raise ValueError(f"{v} leaves an error budget of {1 - v:.3g}; the 14.4x burn-rate page "
                             "needs a budget under 1/14.4, so use at least 0.931")
        return v

    @model_validator(mode="after")
    def _order(self) -> Slo:
        if self.p99_ms is not None and self.p99_ms < self.p95_ms:
            raise ValueError(f"p99Ms ({self.p99_ms}) must be >= p95Ms ({self.p95_ms})")
        return self


# Judged by the load gate only, never by an alert rule: `faults` holds what the gate demands
# while it injects a fault, and `maxRegressionPercent` compares two runs.
GATE_ONLY_SLO_KEYS = ("faults", "max_regression_percent")
# The SLO targets in field order, as the alert rules' `slo` label and the policy pack name them.
SLO_TARGETS: tuple[str, ...] = tuple(k for k in Slo.model_fields if k not in GATE_ONLY_SLO_KEYS)


class Runner(_Model):
    """The in-cluster Locust runner (components/locust_runner.py): a master and N workers."""

    in_cluster: bool | None = Field(
        None, description="render the in-cluster Locust runner; unset: only review stacks have one")
    workers: int = Field(2, ge=1, le=100, description="Locust worker pods under the master")
    cpu: str = Field("1", description="CPU of each worker, requested and limited alike (a throttled "
                                      "generator is a run that did not happen)")
    memory: str = Field("512Mi", description="memory of each worker, requested and limited alike")

    @field_validator("cpu")
    @classmethod
    def _cpu(cls, v: str) -> str:
        return Quantities._cpu(v)

    @field_validator("memory")
    @classmethod
    def _memory(cls, v: str) -> str:
        return Quantities._memory(v)


class Load(_Model):
    rps: float | None = Field(
        None, gt=0, le=100000, description="open model: the arrival rate the gate offers (peak of the shape)")
    users: int | None = Field(None, ge=1, le=10000, description="closed model: users that wait for each answer")
    spawn_rate: float | None = Field(
        None, gt=0, le=1000, description="closed model: users started per second")
    duration: str
    shape: Literal["steady", "ramp", "spike"]
    warmup_seconds: int = Field(
        0, ge=0, le=600,
        description="the first seconds of the load, reported but not judged for p95/p99: users open "
                    "their connections and the caches fill (errors and throughput are judged throughout)")
    runner: Runner = Field(default_factory=Runner)

    @model_validator(mode="after")
    def _one_model(self) -> Load:
        if (self.rps is None) == (self.users is None):
            raise ValueError("set either rps (an arrival rate, open model) or users (closed model), "
                             "not both and not neither")
        if self.users is not None and self.spawn_rate is None:
            raise ValueError("spawnRate is required with users")
        if self.rps is not None and self.spawn_rate is not None:
            raise ValueError("spawnRate applies to users only; with rps the gate starts the users "
                             "it needs within a second of each stage")
        if self.warmup_seconds and self.warmup_seconds >= duration_seconds(self.duration):
            raise ValueError(f"warmupSeconds ({self.warmup_seconds}) must be shorter than the load's "
                             f"duration ({self.duration}): nothing would be judged")
        return self

    @field_validator("duration")
    @classmethod
    def _duration(cls, v: str) -> str:
        duration_seconds(v)
        return v

    @property
    def duration_s(self) -> int:
        return duration_seconds(self.duration)


class Profile(_Model):
    environment: Environment
    namespace: str = Field(max_length=63)
    kubernetes_version: str = Field(pattern=r"^1\.[0-9]{2}$", description="e.g. 1.31")
    image: Image
    images: Images = Field(default_factory=Images)
    api: Api
    redis: Redis
    postgres: Postgres
    monitoring: Monitoring
    slo: Slo
    load: Load

    @model_validator(mode="after")
    def _rate_proves_throughput(self) -> Profile:
        if self.load.rps is not None and self.load.rps < self.slo.min_rps:
            raise ValueError(f"load.rps: {self.load.rps:g} is below slo.minRps "
                             f"({self.slo.min_rps:g}); the gate could never prove that throughput")
        return self

    @property
    def runs_in_cluster(self) -> bool:
        """Whether the stack renders the in-cluster Locust runner (`load.runner.inCluster`)."""
        flag = self.load.runner.in_cluster
        return self.environment == "review" if flag is None else flag

    @field_validator("namespace")
    @classmethod
    def _dns(cls, v: str) -> str:
        if not _DNS_LABEL.match(v):
            raise ValueError(f"'{v}' is not a DNS-1123 label (lowercase letters, digits, '-')")
        return v


def _key_path(loc: tuple[Any, ...]) -> str:
    # pydantic reports keys as the YAML spelled them (aliases); re-casing them would turn a
    # typo such as `p95ms` into the valid `p95Ms` and hide it.
    parts = [p if isinstance(p, str) else f"[{p}]" for p in loc]
    return ".".join(parts).replace(".[", "[") or "(profile)"


def _reason(err: ErrorDetails) -> str:
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        return "unknown key (check the spelling; see docs/profile.md)"
    if err["type"] == "missing":
        return "required key is missing"
    return msg.removeprefix("Value error, ")


_NAMED_KEY = re.compile(r"^([a-z][A-Za-z0-9]*(?:\.[a-z][A-Za-z0-9]*)+): (.*)$", re.S)


def _problem(err: ErrorDetails) -> tuple[str, str]:
    key, reason = _key_path(err["loc"]), _reason(err)
    # A rule across sections (on the whole profile) names the key it is about first.
    m = _NAMED_KEY.match(reason) if not err["loc"] else None
    return (m.group(1), m.group(2)) if m else (key, reason)


def validate_profile(stack: str, data: Any) -> Profile:
    """Validate raw profile data; raise one ProfileError naming every bad key."""
    if not isinstance(data, dict):
        raise ProfileError(stack, [("(profile)", f"must be a mapping, got {type(data).__name__}")])
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        problems = [_problem(e) for e in exc.errors()]
        raise ProfileError(stack, problems) from None


def stack_file(stack: str, stacks_dir: Path = STACKS_DIR) -> Path:
    return stacks_dir / f"Pulumi.{stack}.yaml"


def available_stacks(stacks_dir: Path = STACKS_DIR) -> list[str]:
    return sorted(p.name[len("Pulumi."):-len(".yaml")] for p in stacks_dir.glob("Pulumi.*.yaml"))


def read_stack_config(stack: str, stacks_dir: Path = STACKS_DIR) -> dict[str, Any]:
    """The `config:` mapping of a stack file, as Pulumi would read it."""
    path = stack_file(stack, stacks_dir)
    if not path.exists():
        known = ", ".join(available_stacks(stacks_dir)) or "none"
        raise ProfileError(stack, [("(stack)", f"no stack file {path.name} in {stacks_dir} (known: {known})")])
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ProfileError(stack, [("(file)", f"{path.name} is not valid YAML: {exc}")]) from None
    config = doc.get("config") if isinstance(doc, dict) else None
    if not isinstance(config, dict):
        raise ProfileError(stack, [("config", f"{path.name} has no `config:` mapping")])
    return config


def load_profile(stack: str, stacks_dir: Path = STACKS_DIR) -> Profile:
    """Read and validate `loadline:profile` from stacks/Pulumi.<stack>.yaml."""
    config = read_stack_config(stack, stacks_dir)
    if PROFILE_KEY not in config:
        raise ProfileError(stack, [(PROFILE_KEY, "key is missing from the stack's config")])
    return validate_profile(stack, config[PROFILE_KEY])
