"""Run the gate's suite inside a review env's cluster, on the stack's own Locust runner.

The stack renders a suspended master Job and worker Job (components/locust_runner.py):
reviewed, policy-checked templates. A run copies both into new Jobs that differ only in
their name, a run label, `suspend: false`, the run's deadline and the load plan
(`suite_env`: stages, pacing, abort rule), waits for the master to finish within a bound,
reads the complete statistics from the master's log (`LOADLINE-STATS {json}`), and
deletes the run's Jobs whatever happened. Only the `kubernetes` client is used: no kubectl.
The stack's Prometheus is read through the API server's Service proxy (`service_proxy`).
"""

from __future__ import annotations

import copy
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from kubernetes import client as k8s
from kubernetes import config as kube_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from components.locust_runner import COMPONENT, GRACE_S, ROLE_LABEL
from loadline.envs.errors import EnvError
from loadline.gate.runner import GateRun, suite_env

RUN_LABEL = "loadline.dev/run"
STATS_PREFIX = "LOADLINE-STATS "
CONTAINER = "locust"
# Labels and annotations the API server or Pulumi own on the templates: a copy must not carry them.
_SERVER_LABELS = ("controller-uid", "batch.kubernetes.io/controller-uid", "job-name",
                  "batch.kubernetes.io/job-name")
# A finished run's Jobs are removed by the cluster even if the gate dies before it deletes them.
TTL_AFTER_FINISHED_S = 600


class RunnerError(EnvError):
    """The in-cluster run could not give statistics; the message says why and what to do."""


def api_client(context: str | None = None) -> k8s.ApiClient:
    """A client for the kubeconfig's context (or the pod's service account inside a cluster)."""
    # Read KUBECONFIG now: the client's own default was fixed when it was imported.
    config_file = os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
    try:
        return kube_config.new_client_from_config(config_file=config_file, context=context)
    except (ConfigException, OSError, TypeError) as kube_exc:
        try:
            kube_config.load_incluster_config()
        except ConfigException:
            raise RunnerError(f"no usable Kubernetes context for the in-cluster runner ({kube_exc}); set "
                              "KUBECONFIG, or use --via port-forward") from None
        return k8s.ApiClient()


def service_proxy(client: k8s.ApiClient, namespace: str, service: str, port: int,
                  scheme: str = "http") -> tuple[str, requests.Session]:
    """A cluster-internal Service's URL through the API server's Service proxy, and a session
    holding the kubeconfig's credentials for it: how the gate reads the stack's Prometheus
    without a port-forward."""
    cfg = client.configuration
    session = requests.Session()
    for auth in cfg.auth_settings().values():
        if auth.get("in") == "header" and auth.get("value"):
            session.headers[auth["key"]] = auth["value"]
    if cfg.cert_file and cfg.key_file:
        session.cert = (cfg.cert_file, cfg.key_file)
    session.verify = cfg.ssl_ca_cert if cfg.verify_ssl and cfg.ssl_ca_cert else bool(cfg.verify_ssl)
    url = f"{cfg.host.rstrip('/')}/api/v1/namespaces/{namespace}/services/{scheme}:{service}:{port}/proxy"
    return url, session


def run_job(template: dict[str, Any], run_id: str, env: dict[str, str], deadline_s: int) -> dict[str, Any]:
    """One run's Job from a template Job as the API server returned it (camelCase dict)."""
    meta = template["metadata"]
    labels = {**(meta.get("labels") or {}), RUN_LABEL: run_id}
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items()
                   if not k.startswith(("pulumi.com/", "kubectl.kubernetes.io/"))}
    spec = copy.deepcopy(template["spec"])
    spec.pop("selector", None)  # generated for the template's uid; the API server makes a new one
    spec.pop("manualSelector", None)
    spec["suspend"] = False
    spec["activeDeadlineSeconds"] = deadline_s
    spec["ttlSecondsAfterFinished"] = TTL_AFTER_FINISHED_S
    pod_meta = spec["template"].setdefault("metadata", {})
    pod_meta["labels"] = {**{k: v for k, v in (pod_meta.get("labels") or {}).items() if k not in _SERVER_LABELS},
                          RUN_LABEL: run_id}
    for c in spec["template"]["spec"]["containers"]:
        if c["name"] == CONTAINER:
            kept = [e for e in c.get("env") or [] if e["name"] not in env]
            c["env"] = kept + [{"name": k, "value": v} for k, v in env.items()]
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": f"{meta['name']}-{run_id}", "namespace": meta["namespace"],
                         "labels": labels, "annotations": annotations},
            "spec": spec}


def stats_from_log(log: str) -> dict[str, Any] | None:
    """The master's complete statistics: the last `LOADLINE-STATS {json}` line of its log."""
    for line in reversed(log.splitlines()):
        if line.startswith(STATS_PREFIX):
            try:
                data = json.loads(line[len(STATS_PREFIX):])
            except ValueError:
                return None
            return data if isinstance(data, dict) else None
    return None


@dataclass
class InClusterRunner:
    """`GateRun.remote` for a review env: the stack's Locust runner in NAMESPACE does the load."""

    namespace: str
    client: k8s.ApiClient
    poll_s: float = 2.0
    # Beyond the load's own duration: image pulls, seeding, workers joining, the summary.
    grace_s: float = GRACE_S
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    on_progress: Callable[[str], None] = lambda _msg: None
    clock: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        self.batch = k8s.BatchV1Api(self.client)
        self.core = k8s.CoreV1Api(self.client)

    def __call__(self, run: GateRun, stats_file: Path) -> None:
        deadline_s = int(run.plan.duration_s + self.grace_s)
        templates = self._templates()
        env = {k: v for k, v in suite_env(run).items() if v}
        jobs = {role: run_job(tpl, self.run_id, env, deadline_s) for role, tpl in templates.items()}
        with self._jobs(jobs):
            self.on_progress(f"runner: run {self.run_id} in {self.namespace}: master Job "
                             f"{jobs['master']['metadata']['name']}, "
                             f"{jobs['worker']['spec']['parallelism']} worker(s); waiting up to {deadline_s} s")
            failed = self._wait(jobs, deadline_s)
            log = self._master_log(jobs["master"]["metadata"]["name"])
            (stats_file.parent / "locust.log").write_text(log)
            stats = stats_from_log(log)
            if failed or stats is None:
                tail = "\n".join(log.splitlines()[-20:])
                why = failed or "the master finished without printing its statistics"
                raise RunnerError(f"in-cluster run {self.run_id} in {self.namespace}: {why}; "
                                  f"the master's log ends with:\n{tail or '(empty)'}")
            stats_file.write_text(json.dumps(stats))

    def _templates(self) -> dict[str, dict[str, Any]]:
        found = self.batch.list_namespaced_job(
            self.namespace, label_selector=f"app.kubernetes.io/component={COMPONENT}")
        items = [self.client.sanitize_for_serialization(j) for j in found.items]
        running = sorted(j["metadata"]["name"] for j in items if RUN_LABEL in (j["metadata"].get("labels") or {})
                         and not _finished(j))
        if running:
            raise RunnerError(f"a load run is already going on in {self.namespace} ({', '.join(running)}); "
                              f"wait for it, or delete it: kubectl -n {self.namespace} delete job -l {RUN_LABEL}")
        templates = {(j["metadata"].get("labels") or {}).get(ROLE_LABEL): j for j in items
                     if (j.get("spec") or {}).get("suspend") and RUN_LABEL not in (j["metadata"].get("labels") or {})}
        missing = [r for r in ("master", "worker") if r not in templates]
        if missing:
            raise RunnerError(f"no Locust runner in {self.namespace} (no suspended {' and '.join(missing)} Job "
                              f"labelled app.kubernetes.io/component={COMPONENT}): the stack renders one with "
                              "load.runner.inCluster (review stacks by default); or gate with --via port-forward")
        return {r: templates[r] for r in ("master", "worker")}

    @contextmanager
    def _jobs(self, jobs: dict[str, dict[str, Any]]) -> Iterator[None]:
        created: list[str] = []
        try:
            for role in ("master", "worker"):
                self.batch.create_namespaced_job(self.namespace, jobs[role])
                created.append(jobs[role]["metadata"]["name"])
            yield
        except ApiException as exc:
            raise RunnerError(f"the Kubernetes API refused the run in {self.namespace}: "
                              f"{exc.status} {exc.reason}: {_message(exc)}") from None
        finally:
            for name in created:
                try:
                    self.batch.delete_namespaced_job(name, self.namespace, propagation_policy="Background")
                except ApiException as exc:
                    if exc.status != 404:
                        self.on_progress(f"runner: could not delete Job {name}: {exc.status} {exc.reason}; "
                                         f"the cluster removes it {TTL_AFTER_FINISHED_S} s after it ends")
            self.on_progress(f"runner: run {self.run_id} removed")

    def _wait(self, jobs: dict[str, dict[str, Any]], deadline_s: int) -> str | None:
        """None once the master succeeded; why not, when a Job failed. RunnerError past the deadline."""
        end = self.clock() + deadline_s
        while True:
            for role in ("master", "worker"):
                status = self.batch.read_namespaced_job_status(jobs[role]["metadata"]["name"], self.namespace).status
                if status is not None and status.failed:
                    return f"the {role} Job failed ({_condition(status)})"
                if role == "master" and status is not None and status.succeeded:
                    return None
            if self.clock() > end:
                raise RunnerError(f"in-cluster run {self.run_id} in {self.namespace} did not finish within "
                                  f"{deadline_s} s; its Jobs are deleted")
            time.sleep(self.poll_s)

    def _master_log(self, job_name: str) -> str:
        pods = self.core.list_namespaced_pod(self.namespace, label_selector=f"job-name={job_name}").items
        if not pods:
            return ""
        # Raw bytes: the client would otherwise parse a log that happens to be JSON.
        resp = self.core.read_namespaced_pod_log(pods[-1].metadata.name, self.namespace, container=CONTAINER,
                                                 _preload_content=False)
        data = resp.data
        return data.decode(errors="replace") if isinstance(data, bytes) else str(data)


def _finished(job: dict[str, Any]) -> bool:
    status = job.get("status") or {}
    return bool(status.get("succeeded") or status.get("failed"))


def _condition(status: Any) -> str:
    for c in status.conditions or []:
        if c.type == "Failed":
            return f"{c.reason}: {c.message}" if c.message else str(c.reason)
    return f"{status.failed} pod(s) failed"


def _message(exc: ApiException) -> str:
    try:
        return str(json.loads(exc.body).get("message", exc.body))
    except (TypeError, ValueError):
        return str(exc.body)
