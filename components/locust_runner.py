"""LocustRunner: the load gate's suite in the cluster, a Locust master and N workers.

The pattern of the official Locust Kubernetes operator: a master Job behind a Service on
5557, worker Jobs started with `--worker --master-host <that Service>`, the locustfile in a
ConfigMap. The runner loads the API through its cluster DNS name, so the gate measures
the stack and not a tunnel.

Both Jobs are rendered suspended: they are the reviewed, policy-checked templates of a
run, and a `pulumi up` never sends load by itself. `loadline env gate` copies them into
one run's Jobs (adding only the run's load plan), waits, reads the statistics the master
prints, and deletes the run's Jobs (`loadline/envs/runner.py`, docs/ephemeral.md).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import common, images
from components.api_service import PORT as API_PORT
from loadline.profile import REPO_ROOT, Profile, duration_seconds

PORT = 5557
COMPONENT = "loadtest"
ROLE_LABEL = "loadline.dev/runner-role"
SUITE = REPO_ROOT / "loadtests"
# The ConfigMap becomes the `loadtests` package under SUITE_ROOT, importable as in the repository.
SUITE_ROOT = "/opt/loadline"
LOCUSTFILE = f"{SUITE_ROOT}/loadtests/locustfile.py"
SECRETS = f"{common.SECRETS_DIR}/loadline"
# Seconds a run may take beyond its load for seeding, workers joining and the summary.
GRACE_S = 300
# Pulumi awaits a Job until it completes; a suspended template never starts.
SKIP_AWAIT = {"pulumi.com/skipAwait": "true"}
# How long the master waits for its workers before it gives up (Locust exits 1).
EXPECT_WORKERS_WAIT_S = 180


def suite_files() -> dict[str, str]:
    """The suite as ConfigMap data: every module of loadtests/, by file name."""
    return {p.name: p.read_text() for p in sorted(SUITE.glob("*.py"))}


def deadline_seconds(profile: Profile) -> int:
    """The bound of one run: the profile's load duration plus GRACE_S."""
    return duration_seconds(profile.load.duration) + GRACE_S


@dataclass
class LocustRunnerArgs:
    profile: Profile
    """The validated profile; `profile.load.runner` sizes the workers."""
    namespace: pulumi.Input[str]
    """Namespace to deploy into (an Output of the Namespace)."""
    target: pulumi.Input[str]
    """The API's cluster URL, `http://<svc>.<ns>.svc.cluster.local:<port>`: what the users load."""
    api_keys_secret_name: pulumi.Input[str]
    """Secret holding EVENTS_API_KEYS; the runner reads the first key from a mounted file."""
    extra_labels: dict[str, str] = field(default_factory=dict)
    """Stack-wide labels added to every object."""


class LocustRunner(pulumi.ComponentResource):
    master_job: pulumi.Output[str]
    """Name of the suspended master Job a run is copied from."""
    worker_job: pulumi.Output[str]
    """Name of the suspended worker Job a run is copied from."""
    master_host: pulumi.Output[str]
    """The master Service's DNS name, which the workers connect to."""
    target: pulumi.Output[str]

    def __init__(self, name: str, args: LocustRunnerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("loadline:loadtest:LocustRunner", name, None, opts)
        p = args.profile
        self._name = name
        self._args = args
        self._ns = args.namespace
        self._child = pulumi.ResourceOptions(parent=self)
        self._lbl = common.labels(name=name, instance=p.namespace, component=COMPONENT,
                                  version=images.version(images.LOCUST), extra=args.extra_labels)
        self._image = images.ref("locust", p)
        master_sel = {**common.selector(name=name, instance=p.namespace), ROLE_LABEL: "master"}
        host = common.dns(f"{name}-master", p.namespace)

        # Nothing in the runner calls the Kubernetes API: its own account, no token, no Role.
        account = k8s.core.v1.ServiceAccount(
            f"{name}-sa", metadata=common.metadata(name, self._ns, self._lbl),
            automount_service_account_token=False, opts=self._child)
        files = suite_files()
        suite = k8s.core.v1.ConfigMap(
            f"{name}-suite", metadata=common.metadata(f"{name}-suite", self._ns, self._lbl), data=files,
            opts=self._child)
        digest = hashlib.sha256("".join(files.values()).encode()).hexdigest()
        master = k8s.core.v1.Service(
            f"{name}-master-svc",
            metadata=common.metadata(f"{name}-master", self._ns, self._lbl),
            spec={"type": "ClusterIP", "selector": master_sel,
                  "ports": [{"name": "master", "port": PORT, "targetPort": "master", "protocol": "TCP"}]},
            opts=self._child)
        pod = {"account": account.metadata.name, "suite": suite.metadata.name, "digest": digest}
        workers = p.load.runner.workers
        master_job = self._job("master", pod, [
            "-f", LOCUSTFILE, "--master", "--headless", "--host", args.target,
            "--master-bind-port", str(PORT), "--expect-workers", str(workers),
            "--expect-workers-max-wait", str(EXPECT_WORKERS_WAIT_S),
            "--csv", "/tmp/locust", "--only-summary", "--loglevel", "WARNING",
        ], parallelism=1)
        worker_job = self._job("worker", pod, [
            "-f", LOCUSTFILE, "--worker", "--master-host", host, "--master-port", str(PORT),
            "--loglevel", "WARNING",
        ], parallelism=workers)
        self._network_policy(master_sel)

        self.master_job = master_job.metadata.name
        self.worker_job = worker_job.metadata.name
        self.master_host = master.metadata.name.apply(lambda n: common.dns(n, p.namespace))
        self.target = pulumi.Output.from_input(args.target)
        self.register_outputs({"master_job": self.master_job, "worker_job": self.worker_job,
                               "master_host": self.master_host, "target": self.target})

    def _resources(self, role: str) -> dict[str, Any]:
        if role == "master":
            # The master aggregates statistics and sends no request.
            return common.small_resources("100m", "256Mi", "500m", "512Mi")
        r = self._args.profile.load.runner
        return {"requests": {"cpu": r.cpu, "memory": r.memory}, "limits": {"cpu": r.cpu, "memory": r.memory}}

    def _job(self, role: str, pod: dict[str, Any], args: list[Any], *, parallelism: int) -> k8s.batch.v1.Job:
        p = self._args.profile
        name = f"{self._name}-{role}"
        lbl = {**self._lbl, ROLE_LABEL: role}
        env: list[dict[str, Any]] = [
            {"name": "PYTHONPATH", "value": SUITE_ROOT},
            {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"},
            # The image's home is read-only here; Locust and requests write nothing else.
            {"name": "HOME", "value": "/tmp"},
            {"name": "LOADLINE_API_KEY_FILE", "value": f"{SECRETS}/api-key"},
        ]
        if role == "master":
            # The gate reads the complete statistics from the master's log: a Job's files
            # are gone with its pod.
            env.append({"name": "LOADLINE_STATS_STDOUT", "value": "1"})
        container: dict[str, Any] = {
            "name": "locust",
            "image": self._image,
            "args": args,
            "env": env,
            **common.hardened(images.LOCUST_UID, self._resources(role)),
            "volumeMounts": [
                {"name": "suite", "mountPath": f"{SUITE_ROOT}/loadtests", "readOnly": True},
                {"name": "tmp", "mountPath": "/tmp"},
                common.secret_mount("api-key", SECRETS),
            ],
        }
        if role == "master":
            container["ports"] = [{"name": "master", "containerPort": PORT, "protocol": "TCP"}]
        return k8s.batch.v1.Job(
            f"{name}-job",
            metadata=common.metadata(name, self._ns, lbl, {**common.workload_annotations(p), **SKIP_AWAIT}),
            spec={
                # A template: a run is a copy of it with `suspend: false` (envs/runner.py).
                "suspend": True,
                "parallelism": parallelism,
                "completions": parallelism,
                # A load run that failed half-way is not retried: its verdict would mix two runs.
                "backoffLimit": 0,
                "activeDeadlineSeconds": deadline_seconds(p),
                "template": {
                    "metadata": {"labels": lbl, "annotations": {"loadline.dev/suite-sha256": pod["digest"]}},
                    "spec": {
                        "serviceAccountName": pod["account"],
                        **common.hardened_pod(images.LOCUST_UID),
                        "restartPolicy": "Never",
                        "containers": [container],
                        "volumes": [
                            {"name": "suite", "configMap": {"name": pod["suite"]}},
                            common.tmp_volume("tmp", "256Mi"),
                            common.secret_volume("api-key", self._args.api_keys_secret_name,
                                                 {"EVENTS_API_KEYS": "api-key"}),
                        ],
                    },
                },
            },
            # The pod template is immutable and the name is fixed: replace by delete first.
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )

    def _network_policy(self, master_sel: dict[str, str]) -> None:
        instance = self._args.profile.namespace
        runner = {"podSelector": {"matchLabels": common.selector(name=self._name, instance=instance)}}
        master = {"podSelector": {"matchLabels": master_sel}}
        k8s.networking.v1.NetworkPolicy(
            f"{self._name}-netpol",
            metadata=common.metadata(self._name, self._ns, self._lbl),
            spec={
                **runner,
                "policyTypes": ["Ingress", "Egress"],
                # Workers connect to the master; nothing else reaches the runner.
                "ingress": [{"from": [runner], "ports": common.tcp(PORT)}],
                "egress": [
                    {"to": [common.peer("api", instance)], "ports": common.tcp(API_PORT)},
                    {"to": [master], "ports": common.tcp(PORT)},
                ],
            },
            opts=self._child,
        )
