"""Operator mode: ServiceMonitors and a PrometheusRule for an existing Prometheus Operator.

The operator only picks up objects whose labels match its selectors; with the usual
kube-prometheus-stack that is `release: <helm release>`. Every object here carries
`release: <monitoring.operatorRelease>`, and a test asserts it, because a missing label
drops rules silently.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import common
from components.monitoring.config import API_JOB, POSTGRES_JOB, REDIS_JOB, alert_rules
from components.monitoring.dashboard import dashboard
from loadline.profile import Profile

JOB_LABEL = "loadline.dev/job"


@dataclass
class OperatorMonitoringArgs:
    profile: Profile
    """The validated profile; `monitoring.operatorRelease` is the label value the operator selects."""
    namespace: pulumi.Input[str]
    """Namespace of the environment (the objects live next to the Services they describe)."""
    extra_labels: dict[str, str] = field(default_factory=dict)
    """Stack-wide labels added to every object."""


class OperatorMonitoring(pulumi.ComponentResource):
    rule_name: pulumi.Output[str]

    def __init__(self, name: str, args: OperatorMonitoringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("loadline:monitoring:OperatorMonitoring", name, None, opts)
        p = args.profile
        ns = args.namespace
        release = p.monitoring.operator_release
        assert release
        lbl = {**common.labels(name=name, instance=p.namespace, component="monitoring", extra=args.extra_labels),
               "release": release}
        child = pulumi.ResourceOptions(parent=self)

        jobs = [(API_JOB, "api", "http")]
        jobs.append((REDIS_JOB, "redis", "metrics"))
        if p.postgres.mode == "inCluster":
            jobs.append((POSTGRES_JOB, "postgres", "metrics"))
        for job, component, port in jobs:
            k8s.apiextensions.CustomResource(
                f"{name}-{component}",
                api_version="monitoring.coreos.com/v1",
                kind="ServiceMonitor",
                metadata=common.metadata(f"{name}-{component}", ns, lbl),
                # jobLabel makes the scrape job name equal to what the alert rules expect.
                spec={
                    "jobLabel": JOB_LABEL,
                    "selector": {"matchLabels": {JOB_LABEL: job, "app.kubernetes.io/instance": p.namespace}},
                    "namespaceSelector": {"matchNames": [p.namespace]},
                    "endpoints": [{"port": port, "path": "/metrics", "interval": p.monitoring.scrape_interval}],
                },
                opts=child,
            )
        k8s.apiextensions.CustomResource(
            f"{name}-rules",
            api_version="monitoring.coreos.com/v1",
            kind="PrometheusRule",
            metadata=common.metadata(f"{name}-rules", ns, lbl),
            spec=alert_rules(p),
            opts=child,
        )
        # kube-prometheus-stack's Grafana sidecar loads ConfigMaps labelled grafana_dashboard;
        # it must be told to search this namespace (docs/components.md).
        k8s.core.v1.ConfigMap(
            f"{name}-dashboard",
            metadata=common.metadata(f"{name}-dashboard", ns, {**lbl, "grafana_dashboard": "1"}),
            data={"loadline.json": json.dumps(dashboard(p), indent=2, sort_keys=True)},
            opts=child,
        )
        # The operator's Prometheus lives in another namespace: let it reach the metrics ports.
        k8s.networking.v1.NetworkPolicy(
            f"{name}-scrape",
            metadata=common.metadata(f"{name}-scrape", ns, lbl),
            spec=_scrape_policy(p),
            opts=child,
        )
        self.rule_name = pulumi.Output.from_input(f"{name}-rules")
        self.register_outputs({"rule_name": self.rule_name})


def _scrape_policy(p: Profile) -> dict[str, Any]:
    return {
        "podSelector": {"matchLabels": {"app.kubernetes.io/instance": p.namespace}},
        "policyTypes": ["Ingress"],
        "ingress": [{"from": [{"namespaceSelector": {}}],
                     "ports": [{"protocol": "TCP", "port": port} for port in (8000, 9121, 9187)]}],
    }
