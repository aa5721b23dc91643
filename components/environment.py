"""Environment: one stack's whole deployment, wired from its profile.

Namespace (restricted Pod Security, default-deny NetworkPolicy) -> Image, Postgres,
RedisCluster -> ApiService (its migrations Job waits for the database and Redis) ->
Monitoring, and for review stacks (or `load.runner.inCluster`) the LocustRunner. Each
component adds the explicit NetworkPolicy allows it needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components import common
from components.api_service import SERVICE_PORT, ApiService, ApiServiceArgs
from components.image import Image, ImageArgs
from components.locust_runner import LocustRunner, LocustRunnerArgs
from components.monitoring.monitoring import Monitoring, MonitoringArgs
from components.postgres import Postgres, PostgresArgs
from components.redis_cluster import RedisCluster, RedisClusterArgs
from loadline.profile import Profile

NAME = "loadline"


@dataclass
class EnvironmentArgs:
    profile: Profile
    """The validated profile of the stack."""
    external_database_url: pulumi.Input[str] | None = None
    """External PostgreSQL only: the connection URL, a secret read from the stack's secure config."""
    extra_labels: dict[str, str] = field(default_factory=dict)
    """`loadline:labels`: added to every object (review stacks record owner and expiry here)."""


class Environment(pulumi.ComponentResource):
    namespace: pulumi.Output[str]
    api_url: pulumi.Output[str]
    image: pulumi.Output[str]
    redis_url: pulumi.Output[str]
    database_secret_name: pulumi.Output[str]
    prometheus_url: pulumi.Output[str]
    grafana_url: pulumi.Output[str]

    def __init__(self, name: str, args: EnvironmentArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("loadline:environment:Environment", name, None, opts)
        p = args.profile
        extra = dict(args.extra_labels)
        child = pulumi.ResourceOptions(parent=self)
        namespace = self._namespace(name, p, extra)
        ns = namespace.metadata.name

        image = Image(f"{name}-image", ImageArgs(profile=p), opts=child)
        postgres = Postgres(f"{name}-postgres", PostgresArgs(
            profile=p, namespace=ns, external_url=args.external_database_url, extra_labels=extra), opts=child)
        redis = RedisCluster(f"{name}-redis", RedisClusterArgs(profile=p, namespace=ns, extra_labels=extra),
                             opts=child)
        api = ApiService(f"{name}-api", ApiServiceArgs(
            profile=p, namespace=ns, image=image.ref,
            database_secret_name=postgres.secret_name, redis_url=redis.url,
            external_database=p.postgres.mode == "external",
            migrate_after=[postgres, redis], extra_labels=extra,
        ), opts=child)

        monitoring = Monitoring(f"{name}-monitoring", MonitoringArgs(
            profile=p, namespace=ns, api_host=api.metrics_host, redis_targets=redis.metrics_targets,
            postgres_targets=postgres.metrics_targets, extra_labels=extra),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[namespace]))

        if p.runs_in_cluster:
            # The API's Service by its cluster DNS name, port included: the runner measures the
            # stack from inside, the way its clients reach it.
            target = api.service_name.apply(
                lambda svc: common.dns(svc, p.namespace, port=SERVICE_PORT, scheme="http"))
            LocustRunner(f"{name}-loadtest", LocustRunnerArgs(
                profile=p, namespace=ns, target=target, api_keys_secret_name=api.api_keys_secret_name,
                extra_labels=extra), opts=pulumi.ResourceOptions(parent=self, depends_on=[api]))

        self.namespace = ns
        self.api_url = api.url
        self.image = image.ref
        self.redis_url = redis.url
        self.database_secret_name = postgres.secret_name
        self.prometheus_url = monitoring.prometheus_url
        self.grafana_url = monitoring.grafana_url
        self.register_outputs({
            "namespace": self.namespace,
            "api_url": self.api_url,
            "image": self.image,
            "redis_url": self.redis_url,
            "database_secret_name": self.database_secret_name,
            "prometheus_url": self.prometheus_url,
            "grafana_url": self.grafana_url,
        })

    def _namespace(self, name: str, p: Profile, extra: dict[str, str]) -> k8s.core.v1.Namespace:
        """The namespace (restricted Pod Security) with its default deny and the DNS allow every pod needs."""
        child = pulumi.ResourceOptions(parent=self)
        ns_lbl = common.labels(name=p.namespace, instance=p.namespace, component="namespace", extra=extra)
        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={"name": p.namespace, "labels": {
                **ns_lbl,
                # Every pod here satisfies the restricted profile; let the API server enforce it.
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/enforce-version": "latest",
            }},
            opts=child,
        )
        ns = namespace.metadata.name
        k8s.networking.v1.NetworkPolicy(
            f"{name}-default-deny",
            metadata=common.metadata("default-deny", ns, ns_lbl),
            spec={"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
            opts=child,
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-allow-dns",
            metadata=common.metadata("allow-dns", ns, ns_lbl),
            spec={
                "podSelector": {},
                "policyTypes": ["Egress"],
                "egress": [{
                    "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
                    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                }],
            },
            opts=child,
        )
        return namespace
