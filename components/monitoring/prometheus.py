"""Prometheus (bundled mode): config + rules ConfigMap, Deployment, Service, NetworkPolicy."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml

from components import common, images

PORT = 9090


@dataclass
class PrometheusArgs:
    namespace: pulumi.Input[str]
    """Namespace to deploy into (an Output of the Namespace)."""
    instance: str
    """The stack's namespace name, used as `app.kubernetes.io/instance`."""
    config: pulumi.Input[dict[str, Any]]
    """prometheus.yml content from `monitoring.config.prometheus_config` (an Output when its
    targets come from other components' outputs)."""
    rules: dict[str, Any]
    """The rule file from `monitoring.config.alert_rules`."""
    retention: str
    """TSDB retention, e.g. 15d."""
    extra_labels: dict[str, str] = field(default_factory=dict)
    """Stack-wide labels added to every object."""
    image: str = images.PROMETHEUS
    """Image reference, with the profile's digest when it pins one (`images.ref`)."""
    annotations: dict[str, str] = field(default_factory=dict)
    """Annotations of the workload (the profile's exemptions, `common.workload_annotations`)."""


class Prometheus(common.Workload):
    url: pulumi.Output[str]

    def __init__(self, name: str, args: PrometheusArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("loadline:monitoring:Prometheus", name, args, instance=args.instance, component="monitoring",
                         version=images.version(args.image), extra=args.extra_labels, opts=opts)

        # Targets come from static names and DNS: Prometheus needs no Kubernetes API access.
        account = k8s.core.v1.ServiceAccount(
            f"{name}-sa", metadata=common.metadata(name, self._ns, self._lbl),
            automount_service_account_token=False, opts=self._child)
        rules = yaml.safe_dump(args.rules, sort_keys=False)
        files = pulumi.Output.from_input(args.config).apply(
            lambda cfg: {"prometheus.yml": yaml.safe_dump(cfg, sort_keys=False), "rules.yml": rules})
        config = k8s.core.v1.ConfigMap(
            f"{name}-config", metadata=common.metadata(f"{name}-config", self._ns, self._lbl), data=files,
            opts=self._child)
        digest = files.apply(lambda f: hashlib.sha256("".join(f.values()).encode()).hexdigest())
        self._deployment(account, config, digest)
        svc = common.job_service(name, self._ns, self._lbl, self._sel, job="prometheus", port=PORT,
                                 opts=self._child)
        k8s.networking.v1.NetworkPolicy(
            f"{name}-netpol",
            metadata=common.metadata(name, self._ns, self._lbl),
            spec=_network_policy(args.instance, self._sel),
            opts=self._child,
        )
        self.url = svc.metadata.name.apply(lambda n: common.dns(n, args.instance, port=PORT, scheme="http"))
        self.register_outputs({"url": self.url})

    def _deployment(self, account: k8s.core.v1.ServiceAccount, config: k8s.core.v1.ConfigMap,
                    digest: pulumi.Output[str]) -> None:
        k8s.apps.v1.Deployment(
            f"{self._name}-deployment",
            metadata=common.metadata(self._name, self._ns, self._lbl, self._args.annotations),
            spec={
                # One server with local storage; two would scrape and alert twice.
                "replicas": 1,
                "strategy": {"type": "Recreate"},
                "selector": {"matchLabels": self._sel},
                "template": {
                    # The digest rolls the pod when the configuration or rules change.
                    "metadata": {"labels": self._lbl, "annotations": {"loadline.dev/config-sha256": digest}},
                    "spec": {
                        "serviceAccountName": account.metadata.name,
                        **common.hardened_pod(images.PROMETHEUS_UID),
                        "containers": [{
                            "name": "prometheus",
                            "image": self._args.image,
                            "args": [
                                "--config.file=/etc/prometheus/prometheus.yml",
                                "--storage.tsdb.path=/prometheus",
                                f"--storage.tsdb.retention.time={self._args.retention}",
                                f"--web.listen-address=:{PORT}",
                            ],
                            "ports": common.http_port(PORT),
                            **common.hardened(images.PROMETHEUS_UID,
                                              common.small_resources("200m", "512Mi", "1", "2Gi")),
                            "livenessProbe": common.http_probe("/-/healthy", "http"),
                            "readinessProbe": common.http_probe("/-/ready", "http"),
                            "volumeMounts": [
                                {"name": "config", "mountPath": "/etc/prometheus", "readOnly": True},
                                {"name": "data", "mountPath": "/prometheus"},
                            ],
                        }],
                        "volumes": [
                            {"name": "config", "configMap": {"name": config.metadata.name}},
                            {"name": "data", "emptyDir": {"sizeLimit": "10Gi"}},
                        ],
                    },
                },
            },
            opts=self._child,
        )


def _network_policy(instance: str, sel: dict[str, str]) -> dict[str, Any]:
    def pods(component: str) -> dict[str, Any]:
        return common.peer(component, instance)

    return {
        "podSelector": {"matchLabels": sel},
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [{"from": [pods("grafana"), pods("monitoring")], "ports": common.tcp(PORT)}],
        "egress": [
            {"to": [pods("api")], "ports": common.tcp(8000)},
            {"to": [pods("redis")], "ports": common.tcp(9121)},
            {"to": [pods("postgres")], "ports": common.tcp(9187)},
            {"to": [pods("monitoring")], "ports": common.tcp(8080)},
            {"to": [pods("grafana")], "ports": common.tcp(3000)},
        ],
    }
