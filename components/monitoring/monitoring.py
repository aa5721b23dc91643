"""Monitoring: picks bundled Prometheus/Grafana/kube-state-metrics or Prometheus Operator objects."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi

from components import common, images
from components.monitoring import grafana as grafana_mod
from components.monitoring import kube_state_metrics as ksm_mod
from components.monitoring.config import KSM_JOB, alert_rules, prometheus_config
from components.monitoring.dashboard import dashboard
from components.monitoring.grafana import Grafana, GrafanaArgs
from components.monitoring.kube_state_metrics import KubeStateMetrics, KubeStateMetricsArgs
from components.monitoring.operator import OperatorMonitoring, OperatorMonitoringArgs
from components.monitoring.prometheus import PORT as PROMETHEUS_PORT
from components.monitoring.prometheus import Prometheus, PrometheusArgs
from loadline.profile import Profile

RULES_PATH = "rules.yml"  # relative to prometheus.yml, so the rendered pair checks as-is


@dataclass
class MonitoringArgs:
    profile: Profile
    """The validated profile; `profile.monitoring` picks the mode, `profile.slo` sets alert thresholds."""
    namespace: pulumi.Input[str]
    """Namespace to deploy into (an Output of the Namespace)."""
    api_host: pulumi.Input[str]
    """DNS name that resolves to every ready API pod (`ApiService.metrics_host`)."""
    redis_targets: pulumi.Input[Sequence[str]]
    """host:port of every redis_exporter (`RedisCluster.metrics_targets`)."""
    postgres_targets: pulumi.Input[Sequence[str]]
    """host:port of the postgres_exporter (`Postgres.metrics_targets`); empty for an external database."""
    extra_labels: dict[str, str] = field(default_factory=dict)
    """Stack-wide labels added to every object."""


def bundled_config(profile: Profile, *, api_host: str, redis_targets: Sequence[str],
                   postgres_targets: Sequence[str], prefix: str = "monitoring") -> dict[str, Any]:
    """prometheus.yml for the bundled Prometheus of a stack."""
    ns = profile.namespace
    extra = {KSM_JOB: [ksm_mod.target(f"{prefix}-kube-state-metrics", ns)]}
    if profile.monitoring.grafana:
        extra["grafana"] = [grafana_mod.target(f"{prefix}-grafana", ns)]
    return prometheus_config(profile, api_targets=[], redis_targets=list(redis_targets),
                             postgres_targets=list(postgres_targets), rule_files=[RULES_PATH],
                             api_dns_name=api_host, extra_targets=extra)


class Monitoring(pulumi.ComponentResource):
    prometheus_url: pulumi.Output[str]
    grafana_url: pulumi.Output[str]

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("loadline:monitoring:Monitoring", name, None, opts)
        p = args.profile
        child = pulumi.ResourceOptions(parent=self)
        self.prometheus_url = pulumi.Output.from_input("")
        self.grafana_url = pulumi.Output.from_input("")

        if p.monitoring.mode == "operator":
            OperatorMonitoring(f"{name}-operator", OperatorMonitoringArgs(
                profile=p, namespace=args.namespace, extra_labels=args.extra_labels), opts=child)
        else:
            annotations = common.workload_annotations(p)
            KubeStateMetrics(f"{name}-kube-state-metrics", KubeStateMetricsArgs(
                namespace=args.namespace, instance=p.namespace, extra_labels=args.extra_labels,
                image=images.ref("kubeStateMetrics", p), annotations=annotations), opts=child)
            config = pulumi.Output.all(args.api_host, args.redis_targets, args.postgres_targets).apply(
                lambda v: bundled_config(p, api_host=v[0], redis_targets=v[1], postgres_targets=v[2], prefix=name))
            prom = Prometheus(f"{name}-prometheus", PrometheusArgs(
                namespace=args.namespace, instance=p.namespace, config=config,
                rules=alert_rules(p), retention=p.monitoring.retention, extra_labels=args.extra_labels,
                image=images.ref("prometheus", p), annotations=annotations), opts=child)
            self.prometheus_url = prom.url
            if p.monitoring.grafana:
                graf = Grafana(f"{name}-grafana", GrafanaArgs(
                    namespace=args.namespace, instance=p.namespace,
                    prometheus_url=common.dns(f"{name}-prometheus", p.namespace, port=PROMETHEUS_PORT,
                                              scheme="http"),
                    dashboard=dashboard(p), extra_labels=args.extra_labels,
                    image=images.ref("grafana", p), annotations=annotations), opts=child)
                self.grafana_url = graf.url
        self.register_outputs({"prometheus_url": self.prometheus_url, "grafana_url": self.grafana_url})
