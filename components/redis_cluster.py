"""RedisCluster: a Redis Cluster (or one standalone node for dev) as a StatefulSet.

Stale IPs after a drain are avoided by announcing stable StatefulSet hostnames
(`cluster-announce-hostname` + `cluster-preferred-endpoint-type hostname`, Redis >= 7):
clients and MOVED redirects name `<pod>.<headless>.<ns>.svc.cluster.local`, which
survives rescheduling. Forming and growing the cluster is an ordinary Job running
`redis_cluster_init.sh` (no Helm hook, which Pulumi would skip).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import common, images
from loadline.profile import Profile

PORT = 6379
BUS_PORT = 16379
METRICS_PORT = 9121
METRICS_JOB = "redis"
INIT_SCRIPT = Path(__file__).with_name("redis_cluster_init.sh")


@dataclass
class RedisClusterArgs:
    profile: Profile
    """The validated profile; topology, persistence and sizing come from `profile.redis`."""
    namespace: pulumi.Input[str]
    """Namespace to deploy into (an Output of the Namespace)."""
    extra_labels: dict[str, str] = field(default_factory=dict)
    """Stack-wide labels (`loadline:labels`) added to every object."""


def node_hosts(name: str, namespace: str, count: int) -> list[str]:
    """Stable DNS names of the StatefulSet pods behind the headless Service."""
    return [common.dns(f"{name}-headless", namespace, pod=f"{name}-{i}") for i in range(count)]


def redis_conf(profile: Profile) -> str:
    r = profile.redis
    lines = [
        f"port {PORT}",
        "bind * -::*",
        # No password inside the namespace: the NetworkPolicy limits who can connect.
        "protected-mode no",
        "dir /data",
        f"appendonly {'yes' if r.persistence.enabled else 'no'}",
    ]
    if not r.persistence.enabled:
        lines.append('save ""')
    if r.mode == "cluster":
        lines += [
            "cluster-enabled yes",
            "cluster-config-file /data/nodes.conf",
            "cluster-node-timeout 5000",
            "cluster-preferred-endpoint-type hostname",
            # Redis is a cache here: while one shard has no master (a failover in progress, or both
            # of its nodes gone) the others keep answering. With full coverage required every node
            # answers CLUSTERDOWN, and redis-py's cluster client answers that by closing all of its
            # connections and sleeping 0.25 s, in every request.
            "cluster-require-full-coverage no",
        ]
    return "\n".join(lines) + "\n"


class RedisCluster(common.Workload):
    """Redis for the API's cache and rate limits."""

    url: pulumi.Output[str]
    headless_service_name: pulumi.Output[str]
    metrics_targets: pulumi.Output[list[str]]

    def __init__(self, name: str, args: RedisClusterArgs, opts: pulumi.ResourceOptions | None = None):
        p = args.profile
        super().__init__("loadline:redis:RedisCluster", name, args, instance=p.namespace, component="redis",
                         version=images.version(images.REDIS), extra=args.extra_labels, opts=opts)
        self._cluster = p.redis.mode == "cluster"
        self._headless = f"{name}-headless"
        hosts = node_hosts(name, p.namespace, p.redis.nodes)

        conf_text = redis_conf(p)
        config = k8s.core.v1.ConfigMap(
            f"{name}-config",
            metadata=common.metadata(f"{name}-config", self._ns, self._lbl),
            data={"redis.conf": conf_text},
            opts=self._child,
        )
        headless_svc = self._services()
        statefulset = self._statefulset(config, conf_text)
        if self._cluster:
            self._init_job(hosts, statefulset, headless_svc)
            k8s.policy.v1.PodDisruptionBudget(
                f"{name}-pdb",
                metadata=common.metadata(name, self._ns, self._lbl),
                # One node at a time: every master has a replica to fail over to.
                spec={"maxUnavailable": 1, "selector": {"matchLabels": self._sel}},
                opts=self._child,
            )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-netpol",
            metadata=common.metadata(name, self._ns, self._lbl),
            spec=self._network_policy(p, self._cluster),
            opts=self._child,
        )

        if self._cluster:
            url = ",".join(f"redis://{h}:{PORT}" for h in hosts)
        else:
            url = common.dns(name, p.namespace, port=PORT, scheme="redis") + "/0"
        self.url = pulumi.Output.from_input(url)
        self.headless_service_name = headless_svc.metadata.name
        self.metrics_targets = pulumi.Output.from_input([f"{h}:{METRICS_PORT}" for h in hosts])
        self.register_outputs({
            "url": self.url,
            "headless_service_name": self.headless_service_name,
            "metrics_targets": self.metrics_targets,
        })

    def _services(self) -> k8s.core.v1.Service:
        """The headless Service (stable pod names, the metrics port) and the client Service."""
        name, ns, sel = self._name, self._ns, self._sel
        ports = [("redis", PORT), *([("bus", BUS_PORT)] if self._cluster else []), ("metrics", METRICS_PORT)]
        # Not-ready pods must resolve too: nodes meet each other before the cluster is ok.
        headless_svc = k8s.core.v1.Service(
            f"{name}-headless",
            metadata=common.metadata(self._headless, ns, {**self._lbl, "loadline.dev/job": METRICS_JOB}),
            spec=common.service_spec(sel, *ports, headless=True, publishNotReadyAddresses=True),
            opts=self._child,
        )
        k8s.core.v1.Service(
            f"{name}-svc",
            metadata=common.metadata(name, ns, self._lbl),
            spec=common.service_spec(sel, ("redis", PORT)),
            opts=self._child,
        )
        return headless_svc

    def _data_volumes(self, config: k8s.core.v1.ConfigMap) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(pod volumes, volumeClaimTemplates): a claim per node when persistence is on, else an emptyDir."""
        persistence = self._args.profile.redis.persistence
        volumes: list[dict[str, Any]] = [
            {"name": "config", "configMap": {"name": config.metadata.name}},
            common.tmp_volume(),
        ]
        if not persistence.enabled:
            return [*volumes, {"name": "data", "emptyDir": {}}], []
        claim_spec: dict[str, Any] = {"accessModes": ["ReadWriteOnce"],
                                      "resources": {"requests": {"storage": persistence.size}}}
        if persistence.storage_class:
            claim_spec["storageClassName"] = persistence.storage_class
        return volumes, [{"metadata": {"name": "data", "labels": self._lbl}, "spec": claim_spec}]

    def _statefulset(self, config: k8s.core.v1.ConfigMap, conf_text: str) -> k8s.apps.v1.StatefulSet:
        p = self._args.profile
        sel = self._sel
        volumes, claims = self._data_volumes(config)
        return k8s.apps.v1.StatefulSet(
            f"{self._name}-statefulset",
            metadata=common.metadata(self._name, self._ns, self._lbl, common.workload_annotations(p)),
            spec={
                "serviceName": self._headless,
                # A fixed topology: the shard count is a profile decision, not an autoscaler's.
                "replicas": p.redis.nodes,
                "podManagementPolicy": "Parallel",
                "updateStrategy": {"type": "RollingUpdate"},
                "selector": {"matchLabels": sel},
                "template": {
                    "metadata": {"labels": self._lbl, "annotations": {
                        "loadline.dev/config-sha256": hashlib.sha256(conf_text.encode()).hexdigest()}},
                    "spec": {
                        "automountServiceAccountToken": False,
                        "securityContext": common.pod_security(images.REDIS_UID, fs_group=images.REDIS_UID),
                        "topologySpreadConstraints": common.spread(
                            sel, strict=p.environment in ("staging", "prod")),
                        "affinity": common.anti_affinity(sel),
                        "terminationGracePeriodSeconds": 30,
                        "containers": [self._redis_container(), self._exporter_container()],
                        "volumes": volumes,
                    },
                },
                **({"volumeClaimTemplates": claims} if claims else {}),
            },
            opts=pulumi.ResourceOptions(
                parent=self,
                # Volumes bind and nodes start in parallel; that takes longer than the 5m default.
                custom_timeouts=pulumi.CustomTimeouts(create="20m", update="20m"),
            ),
        )

    def _redis_container(self) -> dict[str, Any]:
        args_list = ["/etc/redis/redis.conf"]
        ports = [{"name": "redis", "containerPort": PORT, "protocol": "TCP"}]
        if self._cluster:
            args_list += [
                "--cluster-announce-hostname",
                common.dns(self._headless, self._args.profile.namespace, pod="$(POD_NAME)"),
                # The current pod IP, so peers learn a rescheduled node's new address at once.
                "--cluster-announce-ip", "$(POD_IP)",
            ]
            ports.append({"name": "bus", "containerPort": BUS_PORT, "protocol": "TCP"})
        ping = ["sh", "-c", f"redis-cli -p {PORT} ping | grep -q PONG"]
        return {
            "name": "redis",
            "image": images.ref("redis", self._args.profile),
            "command": ["redis-server"],
            "args": args_list,
            "env": [
                {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            ],
            "ports": ports,
            "resources": common.resources(self._args.profile.redis.resources),
            "securityContext": common.container_security(images.REDIS_UID),
            "livenessProbe": common.exec_probe(ping, period=10, failures=3, delay=10),
            "readinessProbe": common.exec_probe(ping, period=5, failures=2),
            "volumeMounts": [{"name": "data", "mountPath": "/data"},
                             {"name": "config", "mountPath": "/etc/redis", "readOnly": True},
                             {"name": "tmp", "mountPath": "/tmp"}],
        }

    def _exporter_container(self) -> dict[str, Any]:
        return {
            "name": "exporter",
            "image": images.ref("redisExporter", self._args.profile),
            "env": [{"name": "REDIS_ADDR", "value": f"redis://localhost:{PORT}"}],
            "ports": [{"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"}],
            "resources": common.small_resources(),
            "securityContext": common.container_security(images.REDIS_EXPORTER_UID),
            "livenessProbe": common.http_probe("/health", "metrics"),
            "readinessProbe": common.http_probe("/health", "metrics"),
        }

    def _init_job(self, hosts: list[str], statefulset: pulumi.Resource, headless_svc: pulumi.Resource) -> None:
        r = self._args.profile.redis
        job_name = f"{self._name}-cluster-init"
        job_lbl = {**self._lbl, "app.kubernetes.io/name": job_name}
        # The node list is part of the pod template, so a scale-out changes the Job and
        # Pulumi replaces it: the new run adds the new nodes and rebalances slots.
        k8s.batch.v1.Job(
            job_name,
            metadata=common.metadata(job_name, self._ns, job_lbl, common.workload_annotations(self._args.profile)),
            spec={
                "backoffLimit": 10,
                "activeDeadlineSeconds": 900,
                "template": {
                    "metadata": {"labels": job_lbl},
                    "spec": {
                        "automountServiceAccountToken": False,
                        "restartPolicy": "OnFailure",
                        "securityContext": common.pod_security(images.REDIS_UID),
                        "containers": [{
                            "name": "cluster-init",
                            "image": images.ref("redis", self._args.profile),
                            "command": ["sh", "-c", INIT_SCRIPT.read_text()],
                            "env": [
                                {"name": "REDIS_NODES", "value": " ".join(f"{h}:{PORT}" for h in hosts)},
                                {"name": "SHARDS", "value": str(r.shards)},
                                {"name": "REPLICAS", "value": str(r.replicas_per_shard)},
                            ],
                            "resources": common.small_resources(),
                            "securityContext": common.container_security(images.REDIS_UID),
                        }],
                    },
                },
            },
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[statefulset, headless_svc], delete_before_replace=True,
                custom_timeouts=pulumi.CustomTimeouts(create="15m", update="15m"),
            ),
        )

    @staticmethod
    def _network_policy(p: Profile, cluster: bool) -> dict[str, Any]:
        def pods(component: str) -> dict[str, Any]:
            return {"podSelector": {"matchLabels": {"app.kubernetes.io/component": component,
                                                    "app.kubernetes.io/instance": p.namespace}}}

        peer_ports = [{"protocol": "TCP", "port": PORT}]
        if cluster:
            peer_ports.append({"protocol": "TCP", "port": BUS_PORT})
        return {
            # The cluster-init Job's pods carry component=redis as well.
            "podSelector": {"matchLabels": {"app.kubernetes.io/component": "redis",
                                            "app.kubernetes.io/instance": p.namespace}},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [
                {"from": [pods("api")], "ports": [{"protocol": "TCP", "port": PORT}]},
                {"from": [pods("redis")], "ports": peer_ports},
                {"from": [pods("monitoring")], "ports": [{"protocol": "TCP", "port": METRICS_PORT}]},
            ],
            "egress": [{"to": [pods("redis")], "ports": peer_ports}],
        }
