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
SECRETS = f"{common.SECRETS_DIR}/grafana"


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
    image: str = images.GRAFANA
    """Image reference, with the profile's digest when it pins one (`images.ref`)."""
    annotations: dict[str, str] = field(default_factory=dict)
    """Annotations of the workload (the profile's exemptions, `common.workload_annotations`)."""


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


class Grafana(common.Workload):
    url: pulumi.Output[str]
    admin_secret_name: pulumi.Output[str]

    def __init__(self, name: str, args: GrafanaArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("loadline:monitoring:Grafana", name, args, instance=args.instance, component="grafana",
                         version=images.version(args.image), extra=args.extra_labels, opts=opts)

        admin = self._admin_secret()
        files = {
            "datasources": {"datasources.yaml": yaml.safe_dump(datasources(args.prometheus_url), sort_keys=False)},
            "providers": {"providers.yaml": yaml.safe_dump(providers(), sort_keys=False)},
            "dashboards": {"loadline.json": json.dumps(args.dashboard, indent=2, sort_keys=True)},
        }
        maps = {
            key: k8s.core.v1.ConfigMap(f"{name}-{key}", metadata=common.metadata(f"{name}-{key}", self._ns, self._lbl),
                                       data=data, opts=self._child)
            for key, data in files.items()
        }
        self._deployment(admin, maps, hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest())
        svc = common.job_service(name, self._ns, self._lbl, self._sel, job="grafana", port=PORT, opts=self._child)
        self._network_policy()
        self.url = svc.metadata.name.apply(lambda n: common.dns(n, args.instance, port=PORT, scheme="http"))
        self.admin_secret_name = admin.metadata.name
        self.register_outputs({"url": self.url, "admin_secret_name": self.admin_secret_name})

    def _admin_secret(self) -> k8s.core.v1.Secret:
        password = random.RandomPassword(f"{self._name}-admin-password", length=24, special=False, opts=self._child)
        return k8s.core.v1.Secret(
            f"{self._name}-admin",
            metadata=common.metadata(f"{self._name}-admin", self._ns, self._lbl),
            type="Opaque",
            string_data={"password": password.result},
            opts=self._child,
        )

    @staticmethod
    def _env() -> list[dict[str, Any]]:
        return [
            {"name": "GF_SECURITY_ADMIN_USER", "value": "admin"},
            # Grafana's __FILE suffix: the password is read from the mounted Secret.
            {"name": "GF_SECURITY_ADMIN_PASSWORD__FILE", "value": f"{SECRETS}/admin-password"},
            {"name": "GF_PATHS_DATA", "value": "/var/lib/grafana"},
            {"name": "GF_PATHS_LOGS", "value": "/var/lib/grafana/logs"},
            {"name": "GF_PATHS_PLUGINS", "value": "/var/lib/grafana/plugins"},
            {"name": "GF_PATHS_PROVISIONING", "value": "/etc/grafana/provisioning"},
            {"name": "GF_ANALYTICS_REPORTING_ENABLED", "value": "false"},
            {"name": "GF_ANALYTICS_CHECK_FOR_UPDATES", "value": "false"},
        ]

    def _deployment(self, admin: k8s.core.v1.Secret, maps: dict[str, k8s.core.v1.ConfigMap], digest: str) -> None:
        k8s.apps.v1.Deployment(
            f"{self._name}-deployment",
            metadata=common.metadata(self._name, self._ns, self._lbl, self._args.annotations),
            spec={
                "replicas": 1,
                "selector": {"matchLabels": self._sel},
                "template": {
                    "metadata": {"labels": self._lbl, "annotations": {"loadline.dev/config-sha256": digest}},
                    "spec": {
                        **common.hardened_pod(images.GRAFANA_UID),
                        "containers": [{
                            "name": "grafana",
                            "image": self._args.image,
                            "env": self._env(),
                            "ports": common.http_port(PORT),
                            **common.hardened(images.GRAFANA_UID, common.small_resources("100m", "128Mi", "500m", "512Mi")),
                            "livenessProbe": common.http_probe("/api/health", "http", delay=30),
                            "readinessProbe": common.http_probe("/api/health", "http"),
                            "volumeMounts": [
                                {"name": "data", "mountPath": "/var/lib/grafana"},
                                {"name": "tmp", "mountPath": "/tmp"},
                                {"name": "datasources", "mountPath": "/etc/grafana/provisioning/datasources", "readOnly": True},
                                {"name": "providers", "mountPath": "/etc/grafana/provisioning/dashboards", "readOnly": True},
                                {"name": "dashboards", "mountPath": "/etc/grafana/dashboards", "readOnly": True},
                                common.secret_mount("admin", SECRETS),
                            ],
                        }],
                        "volumes": [
                            {"name": "data", "emptyDir": {"sizeLimit": "1Gi"}},
                            common.tmp_volume(),
                            *({"name": key, "configMap": {"name": cm.metadata.name}} for key, cm in maps.items()),
                            common.secret_volume("admin", admin.metadata.name, {"password": "admin-password"}),
                        ],
                    },
                },
            },
            opts=self._child,
        )

    def _network_policy(self) -> None:
        k8s.networking.v1.NetworkPolicy(
            f"{self._name}-netpol",
            metadata=common.metadata(self._name, self._ns, self._lbl),
            spec={
                "podSelector": {"matchLabels": self._sel},
                "policyTypes": ["Ingress", "Egress"],
                # Users reach Grafana through port-forward or an ingress controller.
                "ingress": [{"ports": common.tcp(PORT)}],
                "egress": [{"to": [common.peer("monitoring", self._args.instance)], "ports": common.tcp(9090)}],
            },
            opts=self._child,
        )


def target(name: str, instance: str) -> str:
    return common.dns(name, instance, port=PORT)
