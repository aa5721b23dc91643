"""Monitoring: picks bundled Prometheus/Grafana/kube-state-metrics or Prometheus Operator objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi

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
    redis_targets: list[str]
    """host:port of every redis_exporter (stable StatefulSet hostnames)."""
    postgres_targets: list[str]
    """host:port of the postgres_exporter; empty for an external database."""
    extra_labels: dict[str, str] = field(default_factory=dict)
    """Stack-wide labels added to every object."""


def api_headless_host(namespace: str, api_name: str = "loadline-api") -> str:
    return f"{api_name}-headless.{namespace}.svc.cluster.local"


def bundled_config(profile: Profile, redis_targets: list[str], postgres_targets: list[str],
                   prefix: str = "monitoring") -> dict[str, Any]:
    """prometheus.yml for the bundled Prometheus of a stack."""
    ns = profile.namespace
    extra = {KSM_JOB: [ksm_mod.target(f"{prefix}-kube-state-metrics", ns)]}
    if profile.monitoring.grafana:
        extra["grafana"] = [grafana_mod.target(f"{prefix}-grafana", ns)]
    return prometheus_config(profile, api_targets=[], redis_targets=redis_targets,
                             postgres_targets=postgres_targets, rule_files=[RULES_PATH],
                             api_dns_name=api_headless_host(ns), extra_targets=extra)


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
            KubeStateMetrics(f"{name}-kube-state-metrics", KubeStateMetricsArgs(
                namespace=args.namespace, instance=p.namespace, extra_labels=args.extra_labels), opts=child)
            prom = Prometheus(f"{name}-prometheus", PrometheusArgs(
                namespace=args.namespace, instance=p.namespace,
                config=bundled_config(p, args.redis_targets, args.postgres_targets, name),
                rules=alert_rules(p), retention=p.monitoring.retention,
                extra_labels=args.extra_labels), opts=child)
            self.prometheus_url = prom.url
            if p.monitoring.grafana:
                graf = Grafana(f"{name}-grafana", GrafanaArgs(
                    namespace=args.namespace, instance=p.namespace,
                    prometheus_url=f"http://{name}-prometheus.{p.namespace}.svc.cluster.local:{PROMETHEUS_PORT}",
                    dashboard=dashboard(p), extra_labels=args.extra_labels), opts=child)
                self.grafana_url = graf.url
        self.register_outputs({"prometheus_url": self.prometheus_url, "grafana_url": self.grafana_url})
