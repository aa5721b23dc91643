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
    return [f"{name}-{i}.{name}-headless.{namespace}.svc.cluster.local" for i in range(count)]


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
        ]
    return "\n".join(lines) + "\n"


class RedisCluster(pulumi.ComponentResource):
    """Redis for the API's cache and rate limits."""

    url: pulumi.Output[str]
    headless_service_name: pulumi.Output[str]
    metrics_targets: pulumi.Output[list[str]]

    def __init__(self, name: str, args: RedisClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("loadline:redis:RedisCluster", name, None, opts)
        p = args.profile
        r = p.redis
        ns = args.namespace
        cluster = r.mode == "cluster"
        nodes = r.nodes
        version = images.REDIS.split(":")[1]
        lbl = common.labels(name=name, instance=p.namespace, component="redis", version=version,
                            extra=args.extra_labels)
        sel = common.selector(name=name, instance=p.namespace)
        headless = f"{name}-headless"
        hosts = node_hosts(name, p.namespace, nodes)
        child = pulumi.ResourceOptions(parent=self)

        conf_text = redis_conf(p)
        config = k8s.core.v1.ConfigMap(
            f"{name}-config",
            metadata=common.metadata(f"{name}-config", ns, lbl),
            data={"redis.conf": conf_text},
            opts=child,
        )

        svc_lbl = {**lbl, "loadline.dev/job": METRICS_JOB}
        ports = [("redis", PORT), *([("bus", BUS_PORT)] if cluster else []), ("metrics", METRICS_PORT)]
        # Not-ready pods must resolve too: nodes meet each other before the cluster is ok.
        headless_svc = k8s.core.v1.Service(
            f"{name}-headless",
            metadata=common.metadata(headless, ns, svc_lbl),
            spec=common.service_spec(sel, *ports, headless=True, publishNotReadyAddresses=True),
            opts=child,
        )
        client_svc = k8s.core.v1.Service(
            f"{name}-svc",
            metadata=common.metadata(name, ns, lbl),
            spec=common.service_spec(sel, ("redis", PORT)),
            opts=child,
        )

        args_list = ["/etc/redis/redis.conf"]
        if cluster:
            args_list += [
                "--cluster-announce-hostname", f"$(POD_NAME).{headless}.{p.namespace}.svc.cluster.local",
                # The current pod IP, so peers learn a rescheduled node's new address at once.
                "--cluster-announce-ip", "$(POD_IP)",
            ]
        redis_ports = [{"name": "redis", "containerPort": PORT, "protocol": "TCP"}]
        if cluster:
            redis_ports.append({"name": "bus", "containerPort": BUS_PORT, "protocol": "TCP"})
        ping = ["sh", "-c", f"redis-cli -p {PORT} ping | grep -q PONG"]
        data_mount = {"name": "data", "mountPath": "/data"}
        volumes: list[dict[str, Any]] = [
            {"name": "config", "configMap": {"name": config.metadata.name}},
            common.tmp_volume(),
        ]
        claims: list[dict[str, Any]] = []
        if r.persistence.enabled:
            claim_spec: dict[str, Any] = {"accessModes": ["ReadWriteOnce"],
                                          "resources": {"requests": {"storage": r.persistence.size}}}
            if r.persistence.storage_class:
                claim_spec["storageClassName"] = r.persistence.storage_class
            claims.append({"metadata": {"name": "data", "labels": lbl}, "spec": claim_spec})
        else:
            volumes.append({"name": "data", "emptyDir": {}})

        strict_spread = p.environment in ("staging", "prod")
        statefulset = k8s.apps.v1.StatefulSet(
            f"{name}-statefulset",
            metadata=common.metadata(name, ns, lbl),
            spec={
                "serviceName": headless,
                # A fixed topology: the shard count is a profile decision, not an autoscaler's.
                "replicas": nodes,
                "podManagementPolicy": "Parallel",
                "updateStrategy": {"type": "RollingUpdate"},
                "selector": {"matchLabels": sel},
                "template": {
                    "metadata": {"labels": lbl, "annotations": {
                        "loadline.dev/config-sha256": hashlib.sha256(conf_text.encode()).hexdigest()}},
                    "spec": {
                        "automountServiceAccountToken": False,
                        "securityContext": common.pod_security(images.REDIS_UID, fs_group=images.REDIS_UID),
                        "topologySpreadConstraints": common.spread(sel, strict=strict_spread),
                        "affinity": common.anti_affinity(sel),
                        "terminationGracePeriodSeconds": 30,
                        "containers": [
                            {
                                "name": "redis",
                                "image": images.REDIS,
                                "command": ["redis-server"],
                                "args": args_list,
                                "env": [
                                    {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                                    {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                                ],
                                "ports": redis_ports,
                                "resources": common.resources(r.resources),
                                "securityContext": common.container_security(images.REDIS_UID),
                                "livenessProbe": common.exec_probe(ping, period=10, failures=3, delay=10),
                                "readinessProbe": common.exec_probe(ping, period=5, failures=2),
                                "volumeMounts": [data_mount,
                                                 {"name": "config", "mountPath": "/etc/redis", "readOnly": True},
                                                 {"name": "tmp", "mountPath": "/tmp"}],
                            },
                            {
                                "name": "exporter",
                                "image": images.REDIS_EXPORTER,
                                "env": [{"name": "REDIS_ADDR", "value": f"redis://localhost:{PORT}"}],
                                "ports": [{"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"}],
                                "resources": common.small_resources(),
                                "securityContext": common.container_security(images.REDIS_EXPORTER_UID),
                                "livenessProbe": common.http_probe("/health", "metrics"),
                                "readinessProbe": common.http_probe("/health", "metrics"),
                            },
                        ],
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

        if cluster:
            self._init_job(name, args, lbl, hosts, statefulset, headless_svc)
            k8s.policy.v1.PodDisruptionBudget(
                f"{name}-pdb",
                metadata=common.metadata(name, ns, lbl),
                # One node at a time: every master has a replica to fail over to.
                spec={"maxUnavailable": 1, "selector": {"matchLabels": sel}},
                opts=child,
            )

        k8s.networking.v1.NetworkPolicy(
            f"{name}-netpol",
            metadata=common.metadata(name, ns, lbl),
            spec=self._network_policy(p, cluster),
            opts=child,
        )

        if cluster:
            url = ",".join(f"redis://{h}:{PORT}" for h in hosts)
        else:
            url = f"redis://{name}.{p.namespace}.svc.cluster.local:{PORT}/0"
        self.url = pulumi.Output.from_input(url)
        self.headless_service_name = headless_svc.metadata.name
        self.metrics_targets = pulumi.Output.from_input([f"{h}:{METRICS_PORT}" for h in hosts])
        self.register_outputs({
            "url": self.url,
            "headless_service_name": self.headless_service_name,
            "metrics_targets": self.metrics_targets,
        })

    def _init_job(self, name: str, args: RedisClusterArgs, lbl: dict[str, str], hosts: list[str],
                  statefulset: pulumi.Resource, headless_svc: pulumi.Resource) -> None:
        p = args.profile
        r = p.redis
        job_name = f"{name}-cluster-init"
        job_lbl = {**lbl, "app.kubernetes.io/name": job_name}
        # The node list is part of the pod template, so a scale-out changes the Job and
        # Pulumi replaces it: the new run adds the new nodes and rebalances slots.
        k8s.batch.v1.Job(
            job_name,
            metadata=common.metadata(job_name, args.namespace, job_lbl),
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
                            "image": images.REDIS,
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
