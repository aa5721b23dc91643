"""kube-state-metrics (bundled mode), limited to this namespace: HPA replica metrics for alerts and the dashboard."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components import common, images

PORT = 8080
RESOURCES = ["horizontalpodautoscalers", "deployments", "statefulsets", "pods"]
TOKEN_EXEMPTION = "policy.loadline.dev/exempt.service-account-token"
TOKEN_REASON = ("kube-state-metrics reads HPAs, Deployments, StatefulSets and Pods from the Kubernetes API; "
                "its own ServiceAccount may only list and watch those, in this namespace")


@dataclass
class KubeStateMetricsArgs:
    namespace: pulumi.Input[str]
    """Namespace to deploy into and the only one watched."""
    instance: str
    """The stack's namespace name, used as `app.kubernetes.io/instance`."""
    extra_labels: dict[str, str] = field(default_factory=dict)
    """Stack-wide labels added to every object."""
    image: str = images.KUBE_STATE_METRICS
    """Image reference, with the profile's digest when it pins one (`images.ref`)."""
    annotations: dict[str, str] = field(default_factory=dict)
    """Annotations of the workload (the profile's exemptions, `common.workload_annotations`)."""


class KubeStateMetrics(common.Workload):
    target: pulumi.Output[str]

    def __init__(self, name: str, args: KubeStateMetricsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("loadline:monitoring:KubeStateMetrics", name, args, instance=args.instance, component="monitoring",
                         version=images.version(args.image), extra=args.extra_labels, opts=opts)

        account = self._rbac()
        self._deployment(account)
        svc = common.job_service(name, self._ns, self._lbl, self._sel, job="kube-state-metrics", port=PORT,
                                 opts=self._child)
        self._network_policy()
        self.target = svc.metadata.name.apply(lambda n: common.dns(n, args.instance, port=PORT))
        self.register_outputs({"target": self.target})

    def _rbac(self) -> k8s.core.v1.ServiceAccount:
        """Its own ServiceAccount, allowed to list and watch only what it reports on, in this namespace."""
        name, ns, lbl = self._name, self._ns, self._lbl
        account = k8s.core.v1.ServiceAccount(f"{name}-sa", metadata=common.metadata(name, ns, lbl), opts=self._child)
        role = k8s.rbac.v1.Role(
            f"{name}-role",
            metadata=common.metadata(name, ns, lbl),
            rules=[
                {"apiGroups": ["autoscaling"], "resources": ["horizontalpodautoscalers"], "verbs": ["list", "watch"]},
                {"apiGroups": ["apps"], "resources": ["deployments", "statefulsets"], "verbs": ["list", "watch"]},
                {"apiGroups": [""], "resources": ["pods"], "verbs": ["list", "watch"]},
            ],
            opts=self._child,
        )
        k8s.rbac.v1.RoleBinding(
            f"{name}-rolebinding",
            metadata=common.metadata(name, ns, lbl),
            role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role.metadata.name},
            subjects=[{"kind": "ServiceAccount", "name": account.metadata.name, "namespace": ns}],
            opts=self._child,
        )
        return account

    def _deployment(self, account: k8s.core.v1.ServiceAccount) -> None:
        k8s.apps.v1.Deployment(
            f"{self._name}-deployment",
            metadata=common.metadata(self._name, self._ns, self._lbl,
                                     {**self._args.annotations, TOKEN_EXEMPTION: TOKEN_REASON}),
            spec={
                "replicas": 1,
                "selector": {"matchLabels": self._sel},
                "template": {
                    "metadata": {"labels": self._lbl},
                    "spec": {
                        "serviceAccountName": account.metadata.name,
                        **common.hardened_pod(images.KUBE_STATE_METRICS_UID, token=True),
                        "containers": [{
                            "name": "kube-state-metrics",
                            "image": self._args.image,
                            "args": [f"--namespaces={self._args.instance}", f"--resources={','.join(RESOURCES)}",
                                     f"--port={PORT}", "--telemetry-port=8081"],
                            "ports": [*common.http_port(PORT),
                                      {"name": "telemetry", "containerPort": 8081, "protocol": "TCP"}],
                            **common.hardened(images.KUBE_STATE_METRICS_UID,
                                              common.small_resources("50m", "64Mi", "200m", "256Mi")),
                            "livenessProbe": common.http_probe("/healthz", "http"),
                            "readinessProbe": common.http_probe("/", "telemetry"),
                        }],
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
                "ingress": [{"from": [common.peer("monitoring", self._args.instance)], "ports": common.tcp(PORT)}],
                # The API server: the only thing it talks to.
                "egress": common.api_server_egress(),
            },
            opts=self._child,
        )


def target(name: str, instance: str) -> str:
    return common.dns(name, instance, port=PORT)
