"""Every third-party image, pinned by version (never `latest`: Bitnami-style floating tags break rollbacks).

A reference may also carry a digest (`redis:7.2.5@sha256:...`); the profile's
`images.digests` adds one per image without editing this table (docs/policies.md,
"Pinning images by digest").
"""

from __future__ import annotations

from loadline.profile import Profile

REDIS = "redis:7.2.5"
POSTGRES = "postgres:16.4"
REDIS_EXPORTER = "oliver006/redis_exporter:v1.62.0"
POSTGRES_EXPORTER = "prometheuscommunity/postgres-exporter:v0.15.0"
PROMETHEUS = "prom/prometheus:v2.53.2"
GRAFANA = "grafana/grafana:11.2.0"
KUBE_STATE_METRICS = "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.13.0"
# The same Locust as requirements.lock: the suite runs in-cluster exactly as it runs here.
LOCUST = "locustio/locust:2.47.0"

# The profile's names for them (`images.digests.<name>`).
BY_NAME = {
    "redis": REDIS,
    "postgres": POSTGRES,
    "redisExporter": REDIS_EXPORTER,
    "postgresExporter": POSTGRES_EXPORTER,
    "prometheus": PROMETHEUS,
    "grafana": GRAFANA,
    "kubeStateMetrics": KUBE_STATE_METRICS,
    "locust": LOCUST,
}

# Each component runs as its own uid and gid, all >= 10000: below that they collide with
# the node's system and login users (the official images default to 999, 472, 65534).
# Every image here runs under an arbitrary uid when its writable paths are volumes
# owned through the pod's fsGroup, which is how the components mount them.
API_UID = 10001
REDIS_UID = 10010
REDIS_EXPORTER_UID = 10011
POSTGRES_UID = 10020
POSTGRES_EXPORTER_UID = 10021
PROMETHEUS_UID = 10030
GRAFANA_UID = 10040
KUBE_STATE_METRICS_UID = 10050
LOCUST_UID = 10060


def ref(name: str, profile: Profile | None = None) -> str:
    """The reference of image `name`, with the profile's digest for it when one is set."""
    base = BY_NAME[name]
    digest = profile.images.digests.get(name) if profile is not None else None
    if not digest:
        return base
    return f"{base.partition('@')[0]}@{digest}"


def version(reference: str) -> str:
    """The tag of a reference (`redis:7.2.5@sha256:...` -> `7.2.5`), for the version label."""
    path = reference.partition("@")[0]
    return path.rpartition(":")[2] if ":" in path.rpartition("/")[2] else ""
