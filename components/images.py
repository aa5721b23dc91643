"""Every third-party image, pinned by version (never `latest`: Bitnami-style floating tags break rollbacks)."""

REDIS = "redis:7.2.5"
POSTGRES = "postgres:16.4"
REDIS_EXPORTER = "oliver006/redis_exporter:v1.62.0"
POSTGRES_EXPORTER = "prometheuscommunity/postgres-exporter:v0.15.0"
PROMETHEUS = "prom/prometheus:v2.53.2"
GRAFANA = "grafana/grafana:11.2.0"
KUBE_STATE_METRICS = "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.13.0"

# uids the official images run as; pods pin them so runAsNonRoot can be verified.
REDIS_UID = 999
POSTGRES_UID = 999
REDIS_EXPORTER_UID = 59000
POSTGRES_EXPORTER_UID = 65534
PROMETHEUS_UID = 65534
GRAFANA_UID = 472
KUBE_STATE_METRICS_UID = 65534
API_UID = 10001
