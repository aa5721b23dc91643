"""ApiService: the events API as Deployment + Service + HPA + PDB + migrations Job + NetworkPolicy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components import common
from components.images import API_UID
from loadline.profile import Profile

PORT = 8000
# The client Service's port: the one in the API's cluster URL.
SERVICE_PORT = 80
METRICS_JOB = "loadline-api"
SECRETS = f"{common.SECRETS_DIR}/events"


# Connections kept free for the migrations Job, the backup CronJob, the exporter and psql.
RESERVED_CONNECTIONS = 10


def db_pool_max(profile: Profile) -> int | None:
    """Pool size per worker so that every pod at the HPA maximum fits in max_connections."""
    tuning = profile.postgres.tuning
    if tuning is None:
        return None
    workers = profile.api.hpa.max_replicas * profile.api.workers
    return max(1, (tuning.max_connections - RESERVED_CONNECTIONS) // workers)


@dataclass
class ApiServiceArgs:
    profile: Profile
    """The validated environment profile; sizing, HPA and service settings come from `profile.api`."""
    namespace: pulumi.Input[str]
    """Namespace to deploy into (an Output of the Namespace, so every child waits for it)."""
    image: pulumi.Input[str]
    """Pinned image reference of the service."""
    database_secret_name: pulumi.Input[str]
    """Secret holding the database connection URL under the key `url`."""
    redis_url: pulumi.Input[str]
    """EVENTS_REDIS_URL: one redis:// URL (standalone) or comma-separated cluster startup nodes."""
    external_database: bool = False
    """True when PostgreSQL lives outside the cluster: egress to port 5432 anywhere is allowed."""
    migrate_after: Sequence[pulumi.Resource] = field(default_factory=list)
    """Resources the migrations Job waits for (the database and its Secret, Redis)."""
    extra_labels: dict[str, str] = field(default_factory=dict)
    """Stack-wide labels (`loadline:labels`) added to every object."""


class ApiService(common.Workload):
    """The API and everything that keeps it healthy under load."""

    url: pulumi.Output[str]
    service_name: pulumi.Output[str]
    hpa_name: pulumi.Output[str]
    api_keys_secret_name: pulumi.Output[str]
    metrics_host: pulumi.Output[str]
    """DNS name of the headless Service: resolves to every ready pod, for Prometheus' dns_sd."""

    def __init__(self, name: str, args: ApiServiceArgs, opts: pulumi.ResourceOptions | None = None):
        p = args.profile
        super().__init__("loadline:api:ApiService", name, args, instance=p.namespace, component="api",
                         version=p.image.tag, extra=args.extra_labels, opts=opts)

        keys_secret = self._api_keys()
        env = self._env(args)
        pod = self._pod(keys_secret)
        migrate = self._migrate_job(env, pod)
        deployment = self._deployment(env, pod, migrate)
        service = self._services()
        autoscaler = self._autoscaler(deployment)
        self._disruption_budget()
        k8s.networking.v1.NetworkPolicy(
            f"{name}-netpol",
            metadata=common.metadata(name, self._ns, self._lbl),
            spec=self._network_policy(args),
            opts=self._child,
        )

        self.service_name = service.metadata.name
        self.hpa_name = autoscaler.metadata.name
        self.api_keys_secret_name = keys_secret.metadata.name
        self.url = service.metadata.name.apply(lambda svc: common.dns(svc, p.namespace, scheme="http"))
        self.metrics_host = pulumi.Output.from_input(common.dns(f"{name}-headless", p.namespace))
        self.register_outputs({
            "url": self.url,
            "service_name": self.service_name,
            "hpa_name": self.hpa_name,
            "api_keys_secret_name": self.api_keys_secret_name,
            "metrics_host": self.metrics_host,
        })

    def _api_keys(self) -> k8s.core.v1.Secret:
        api_key = random.RandomPassword(f"{self._name}-api-key", length=40, special=False, opts=self._child)
        return k8s.core.v1.Secret(
            f"{self._name}-keys",
            metadata=common.metadata(f"{self._name}-keys", self._ns, self._lbl),
            type="Opaque",
            string_data={"EVENTS_API_KEYS": api_key.result},
            opts=self._child,
        )

    def _container(self, env: list[dict[str, Any]]) -> dict[str, Any]:
        """What the serving and the migrations containers share: image, settings, hardening."""
        return {
            "image": self._args.image,
            "imagePullPolicy": "IfNotPresent",
            "env": env,
            **common.hardened(API_UID, common.resources(self._args.profile.api.resources)),
            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"},
                             {"name": "metrics", "mountPath": "/tmp/prometheus"},
                             common.secret_mount("secrets", SECRETS)],
        }

    def _pod(self, keys_secret: k8s.core.v1.Secret) -> dict[str, Any]:
        """What the serving and the migrations pods share: no token, high ids, the secrets as files."""
        secrets = {"name": "secrets", "projected": {"defaultMode": common.SECRET_FILE_MODE, "sources": [
            {"secret": {"name": self._args.database_secret_name,
                        "items": [{"key": "url", "path": "database-url"}]}},
            {"secret": {"name": keys_secret.metadata.name,
                        "items": [{"key": "EVENTS_API_KEYS", "path": "api-keys"}]}},
        ]}}
        return {
            **common.hardened_pod(API_UID),
            "volumes": [common.tmp_volume("tmp", "256Mi"), common.tmp_volume("metrics", "64Mi"), secrets],
        }

    def _migrate_job(self, env: list[dict[str, Any]], pod: dict[str, Any]) -> k8s.batch.v1.Job:
        p = self._args.profile
        migrate_name = f"{self._name}-migrate"
        migrate_lbl = common.labels(name=migrate_name, instance=p.namespace, component="api",
                                    version=p.image.tag, extra=self._args.extra_labels)
        # An ordinary Job (not a hook) that Pulumi awaits to completion; the Deployment
        # depends on it, so a new image never serves traffic before its schema exists.
        return k8s.batch.v1.Job(
            migrate_name,
            metadata=common.metadata(migrate_name, self._ns, migrate_lbl, common.workload_annotations(p)),
            spec={
                "backoffLimit": 6,
                "activeDeadlineSeconds": 900,
                "template": {
                    "metadata": {"labels": migrate_lbl},
                    "spec": {**pod, "restartPolicy": "OnFailure", "containers": [{
                        **self._container(env), "name": "migrate",
                        "command": ["python", "-m", "app", "migrate"],
                    }]},
                },
            },
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=list(self._args.migrate_after),
                # The pod template is immutable and the name is fixed: replace by delete first.
                delete_before_replace=True,
                custom_timeouts=pulumi.CustomTimeouts(create="15m", update="15m"),
            ),
        )

    def _deployment(self, env: list[dict[str, Any]], pod: dict[str, Any],
                    migrate: k8s.batch.v1.Job) -> k8s.apps.v1.Deployment:
        sel = self._sel
        # No spec.replicas: the HPA owns the replica count. Setting it here would fight
        # the HPA on every `pulumi up` (server-side apply field ownership).
        return k8s.apps.v1.Deployment(
            f"{self._name}-deployment",
            metadata=common.metadata(self._name, self._ns, self._lbl,
                                     common.workload_annotations(self._args.profile)),
            spec={
                "selector": {"matchLabels": sel},
                "revisionHistoryLimit": 5,
                "strategy": {"type": "RollingUpdate",
                             "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"}},
                "template": {
                    "metadata": {"labels": self._lbl},
                    "spec": {
                        **pod,
                        "terminationGracePeriodSeconds": 30,
                        "topologySpreadConstraints": common.spread(sel, strict=False),
                        "affinity": common.anti_affinity(sel),
                        "containers": [{
                            **self._container(env),
                            "name": "api",
                            "command": ["python", "-m", "app", "serve"],
                            "ports": common.http_port(PORT),
                            "startupProbe": common.http_probe("/healthz", "http", period=5, failures=30, delay=2),
                            "livenessProbe": common.http_probe("/healthz", "http", period=10, failures=3),
                            "readinessProbe": common.http_probe("/readyz", "http", period=5, failures=2),
                        }],
                    },
                },
            },
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[migrate],
                custom_timeouts=pulumi.CustomTimeouts(create="10m", update="10m"),
            ),
        )

    def _services(self) -> k8s.core.v1.Service:
        """The client Service, and its headless twin through which Prometheus finds every pod."""
        name, ns, sel = self._name, self._ns, self._sel
        service = k8s.core.v1.Service(
            f"{name}-svc",
            metadata=common.metadata(name, ns, {**self._lbl, "loadline.dev/job": METRICS_JOB}),
            spec=common.service_spec(sel, ("http", SERVICE_PORT)),
            opts=self._child,
        )
        # The headless DNS name lists every ready pod, which is how the bundled Prometheus
        # finds each replica. No job label: operator mode selects the Service above, and
        # two matches would scrape every pod twice.
        k8s.core.v1.Service(
            f"{name}-headless",
            metadata=common.metadata(f"{name}-headless", ns, self._lbl),
            spec=common.service_spec(sel, ("http", PORT), headless=True),
            opts=self._child,
        )
        return service

    def _autoscaler(self, deployment: k8s.apps.v1.Deployment) -> k8s.autoscaling.v2.HorizontalPodAutoscaler:
        hpa = self._args.profile.api.hpa
        return k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{self._name}-hpa",
            metadata=common.metadata(self._name, self._ns, self._lbl),
            spec={
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment.metadata.name},
                "minReplicas": hpa.min_replicas,
                "maxReplicas": hpa.max_replicas,
                "metrics": [{"type": "Resource", "resource": {
                    "name": "cpu", "target": {"type": "Utilization", "averageUtilization": hpa.cpu_target_percent}}}],
                "behavior": {
                    "scaleUp": {"stabilizationWindowSeconds": hpa.scale_up.stabilization_seconds,
                                "selectPolicy": "Max",
                                "policies": [{"type": "Percent", "value": hpa.scale_up.percent,
                                              "periodSeconds": hpa.scale_up.period_seconds}]},
                    "scaleDown": {"stabilizationWindowSeconds": hpa.scale_down.stabilization_seconds,
                                  "selectPolicy": "Max",
                                  "policies": [{"type": "Percent", "value": hpa.scale_down.percent,
                                                "periodSeconds": hpa.scale_down.period_seconds}]},
                },
            },
            opts=self._child,
        )

    def _disruption_budget(self) -> None:
        hpa = self._args.profile.api.hpa
        # minAvailable stays below the HPA floor so a drain can always evict one pod.
        budget: dict[str, Any] = ({"minAvailable": hpa.min_replicas - 1} if hpa.min_replicas >= 2
                                  else {"maxUnavailable": 1})
        k8s.policy.v1.PodDisruptionBudget(
            f"{self._name}-pdb",
            metadata=common.metadata(self._name, self._ns, self._lbl),
            spec={**budget, "selector": {"matchLabels": self._sel}},
            opts=self._child,
        )

    @staticmethod
    def _env(args: ApiServiceArgs) -> list[dict[str, Any]]:
        p = args.profile
        api = p.api
        production = p.environment in ("staging", "prod")
        plain = {
            "EVENTS_ENVIRONMENT": "production" if production else "development",
            "EVENTS_REDIS_MODE": "cluster" if p.redis.mode == "cluster" else "standalone",
            "EVENTS_HOST": "0.0.0.0",
            "EVENTS_PORT": str(PORT),
            "EVENTS_WORKERS": str(api.workers),
            "EVENTS_CACHE_EVENT_TTL_SECONDS": str(api.cache.event_ttl_seconds),
            "EVENTS_CACHE_SEARCH_TTL_SECONDS": str(api.cache.search_ttl_seconds),
            "EVENTS_CACHE_L1_SIZE": str(api.cache.l1_size),
            "EVENTS_CACHE_L1_TTL_SECONDS": f"{api.cache.l1_ttl_seconds:g}",
            "EVENTS_RATE_LIMIT_PER_SECOND": f"{api.rate_limit.per_second:g}",
            "EVENTS_RATE_LIMIT_BURST": str(api.rate_limit.burst),
            "PROMETHEUS_MULTIPROC_DIR": "/tmp/prometheus",
        }
        pool = db_pool_max(p)
        if pool is not None:
            plain["EVENTS_DB_POOL_MAX"] = str(pool)
        env: list[dict[str, Any]] = [{"name": k, "value": v} for k, v in plain.items()]
        env.append({"name": "EVENTS_REDIS_URL", "value": args.redis_url})
        # The secrets are files in a read-only volume (`_pod`), never environment variables.
        env.append({"name": "EVENTS_DATABASE_URL_FILE", "value": f"{SECRETS}/database-url"})
        env.append({"name": "EVENTS_API_KEYS_FILE", "value": f"{SECRETS}/api-keys"})
        return env

    @staticmethod
    def _network_policy(args: ApiServiceArgs) -> dict[str, Any]:
        instance = args.profile.namespace

        egress: list[dict[str, Any]] = [
            {"to": [common.peer("redis", instance)], "ports": common.tcp(6379)},
        ]
        if args.external_database:
            egress.append({"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": common.tcp(5432)})
        else:
            egress.append({"to": [common.peer("postgres", instance)], "ports": common.tcp(5432)})
        return {
            # Both the serving pods and the migrations Job carry component=api.
            **common.peer("api", instance),
            "policyTypes": ["Ingress", "Egress"],
            # The API is the public entry point: any source may reach its port.
            "ingress": [{"ports": common.tcp(PORT)}],
            "egress": egress,
        }
