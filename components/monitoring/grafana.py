"""Grafana (bundled mode): provisioned Prometheus datasource and the environment's dashboard."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random
import yaml

from components import common, images
from components.monitoring.dashboard import DATASOURCE_UID

PORT = 3000


@dataclass
class GrafanaArgs:
    namespace: pulumi.Input[str]
    """Namespace to deploy into (an Output of the Namespace)."""
    instance: str
    """The stack's namespace name, used as `app.kubernetes.io/instance`."""
    prometheus_url: str
    """URL of the Prometheus Service the datasource points at."""
    dashboard: dict[str, Any]
    """Dashboard JSON from `monitoring.dashboard.dashboard`."""
    extra_labels: dict[str, str] = field(default_factory=dict)
    """Stack-wide labels added to every object."""


def datasources(prometheus_url: str) -> dict[str, Any]:
    return {"apiVersion": 1, "datasources": [{
        "name": "Prometheus", "uid": DATASOURCE_UID, "type": "prometheus", "access": "proxy",
        "url": prometheus_url, "isDefault": True, "editable": False,
    }]}


def providers() -> dict[str, Any]:
    return {"apiVersion": 1, "providers": [{
        "name": "loadline", "type": "file", "disableDeletion": True, "allowUiUpdates": False,
        "options": {"path": "/etc/grafana/dashboards"},
    }]}


class Grafana(pulumi.ComponentResource):
    url: pulumi.Output[str]
    admin_secret_name: pulumi.Output[str]

    def __init__(self, name: str, args: GrafanaArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("loadline:monitoring:Grafana", name, None, opts)
        ns = args.namespace
        lbl = common.labels(name=name, instance=args.instance, component="grafana",
                            version=images.GRAFANA.split(":")[1], extra=args.extra_labels)
        sel = common.selector(name=name, instance=args.instance)
        child = pulumi.ResourceOptions(parent=self)

        password = random.RandomPassword(f"{name}-admin-password", length=24, special=False, opts=child)
        admin = k8s.core.v1.Secret(
            f"{name}-admin",
            metadata=common.metadata(f"{name}-admin", ns, lbl),
            type="Opaque",
            string_data={"password": password.result},
            opts=child,
        )
        files = {
            "datasources": {"datasources.yaml": yaml.safe_dump(datasources(args.prometheus_url), sort_keys=False)},
            "providers": {"providers.yaml": yaml.safe_dump(providers(), sort_keys=False)},
            "dashboards": {"loadline.json": json.dumps(args.dashboard, indent=2, sort_keys=True)},
        }
        digest = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()
        maps = {
            key: k8s.core.v1.ConfigMap(f"{name}-{key}", metadata=common.metadata(f"{name}-{key}", ns, lbl),
                                       data=data, opts=child)
            for key, data in files.items()
        }
        env = [
            {"name": "GF_SECURITY_ADMIN_USER", "value": "admin"},
            {"name": "GF_SECURITY_ADMIN_PASSWORD",
             "valueFrom": {"secretKeyRef": {"name": admin.metadata.name, "key": "password"}}},
            {"name": "GF_PATHS_DATA", "value": "/var/lib/grafana"},
            {"name": "GF_PATHS_LOGS", "value": "/var/lib/grafana/logs"},
            {"name": "GF_PATHS_PLUGINS", "value": "/var/lib/grafana/plugins"},
            {"name": "GF_PATHS_PROVISIONING", "value": "/etc/grafana/provisioning"},
            {"name": "GF_ANALYTICS_REPORTING_ENABLED", "value": "false"},
            {"name": "GF_ANALYTICS_CHECK_FOR_UPDATES", "value": "false"},
        ]
        k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=common.metadata(name, ns, lbl),
            spec={
                "replicas": 1,
                "selector": {"matchLabels": sel},
                "template": {
                    "metadata": {"labels": lbl, "annotations": {"loadline.dev/config-sha256": digest}},
                    "spec": {
                        "automountServiceAccountToken": False,
                        "securityContext": common.pod_security(images.GRAFANA_UID, fs_group=images.GRAFANA_UID),
                        "containers": [{
                            "name": "grafana",
                            "image": images.GRAFANA,
                            "env": env,
                            "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
                            "resources": common.small_resources("100m", "128Mi", "500m", "512Mi"),
                            "securityContext": common.container_security(images.GRAFANA_UID),
                            "livenessProbe": common.http_probe("/api/health", "http", delay=30),
                            "readinessProbe": common.http_probe("/api/health", "http"),
                            "volumeMounts": [
                                {"name": "data", "mountPath": "/var/lib/grafana"},
                                {"name": "tmp", "mountPath": "/tmp"},
                                {"name": "datasources", "mountPath": "/etc/grafana/provisioning/datasources", "readOnly": True},
                                {"name": "providers", "mountPath": "/etc/grafana/provisioning/dashboards", "readOnly": True},
                                {"name": "dashboards", "mountPath": "/etc/grafana/dashboards", "readOnly": True},
                            ],
                        }],
                        "volumes": [
                            {"name": "data", "emptyDir": {"sizeLimit": "1Gi"}},
                            common.tmp_volume(),
                            *({"name": key, "configMap": {"name": cm.metadata.name}} for key, cm in maps.items()),
                        ],
                    },
                },
            },
            opts=child,
        )
        svc = k8s.core.v1.Service(
            f"{name}-svc",
            metadata=common.metadata(name, ns, {**lbl, "loadline.dev/job": "grafana"}),
            spec=common.service_spec(sel, ("http", PORT)),
            opts=child,
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-netpol",
            metadata=common.metadata(name, ns, lbl),
            spec={
                "podSelector": {"matchLabels": sel},
                "policyTypes": ["Ingress", "Egress"],
                # Users reach Grafana through port-forward or an ingress controller.
                "ingress": [{"ports": [{"protocol": "TCP", "port": PORT}]}],
                "egress": [{"to": [{"podSelector": {"matchLabels": {
                    "app.kubernetes.io/component": "monitoring", "app.kubernetes.io/instance": args.instance}}}],
                    "ports": [{"protocol": "TCP", "port": 9090}]}],
            },
            opts=child,
        )
        self.url = pulumi.Output.concat("http://", svc.metadata.name, ".", args.instance, ".svc.cluster.local:", str(PORT))
        self.admin_secret_name = admin.metadata.name
        self.register_outputs({"url": self.url, "admin_secret_name": self.admin_secret_name})


def target(name: str, instance: str) -> str:
    return f"{name}.{instance}.svc.cluster.local:{PORT}"
