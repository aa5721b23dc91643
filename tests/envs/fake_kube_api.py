"""A stand-in for the Kubernetes API server, for the calls the in-cluster runner makes.

It speaks the few endpoints `loadline.envs.runner` uses, with the API server's paths and
JSON shapes: list, create, read status and delete Jobs; list Pods by `job-name`; read a
Pod's log; and the Service proxy to Prometheus's query API. Created Jobs get what the API
server adds (a selector and the controller's labels); a master Job "runs" on its first
status read and its pod's log is `master_log`. Every request is recorded with its headers.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

JOBS = re.compile(r"^/apis/batch/v1/namespaces/(?P<ns>[^/]+)/jobs(?:/(?P<name>[^/]+))?(?P<status>/status)?$")
PODS = re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/pods(?:/(?P<name>[^/]+)/log)?$")
PROXY = re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/services/(?P<svc>[^/]+)/proxy(?P<path>/.*)$")


@dataclass
class FakeCluster:
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    master_log: str = ""
    # "succeed": the master completes on its first status read; "fail": it fails; "never": it runs on.
    outcome: str = "succeed"
    refuse_create: bool = False
    prometheus_requests: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_template(self, job: dict[str, Any]) -> None:
        """A Job as `pulumi up` left it: with what the API server adds to every Job."""
        job = json.loads(json.dumps(job))
        _server_fields(job, f"uid-{len(self.jobs)}")
        job["status"] = {}
        self.jobs[job["metadata"]["name"]] = job

    def created(self) -> list[dict[str, Any]]:
        return [r["body"] for r in self.requests if r["method"] == "POST"]


def _server_fields(job: dict[str, Any], uid: str) -> None:
    name = job["metadata"]["name"]
    job["metadata"]["uid"] = uid
    job["spec"]["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    job["spec"]["template"]["metadata"]["labels"].update(
        {"batch.kubernetes.io/controller-uid": uid, "controller-uid": uid,
         "batch.kubernetes.io/job-name": name, "job-name": name})


def _selector_matches(selector: str, labels: dict[str, str]) -> bool:
    for term in filter(None, (selector or "").split(",")):
        key, _, value = term.partition("=")
        if labels.get(key) != value:
            return False
    return True


class _Handler(BaseHTTPRequestHandler):
    cluster: FakeCluster

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, code: int, body: Any, content_type: str = "application/json") -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _record(self, body: Any = None) -> tuple[str, dict[str, list[str]]]:
        url = urlparse(self.path)
        self.cluster.requests.append({"method": self.command, "path": url.path, "query": parse_qs(url.query),
                                      "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
        return url.path, parse_qs(url.query)

    def _not_found(self, what: str) -> None:
        self._send(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound",
                         "code": 404, "message": f"{what} not found"})

    def do_GET(self) -> None:  # noqa: N802
        path, query = self._record()
        c = self.cluster
        with c.lock:
            if m := PROXY.match(path):
                return self._prometheus(m["path"], query)
            if m := JOBS.match(path):
                if m["name"] is None:
                    items = [j for j in c.jobs.values()
                             if _selector_matches(query.get("labelSelector", [""])[0], j["metadata"]["labels"])]
                    return self._send(200, {"kind": "JobList", "apiVersion": "batch/v1", "metadata": {},
                                            "items": items})
                job = c.jobs.get(m["name"])
                if job is None:
                    return self._not_found(f'jobs.batch "{m["name"]}"')
                self._advance(job)
                return self._send(200, job)
            if m := PODS.match(path):
                if m["name"] is not None:
                    return self._send(200, c.master_log.encode(), "text/plain")
                pods = [p for j in c.jobs.values() for p in j.get("_pods", [])
                        if _selector_matches(query.get("labelSelector", [""])[0], p["metadata"]["labels"])]
                return self._send(200, {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": pods})
        self._not_found(path)

    def _advance(self, job: dict[str, Any]) -> None:
        """A created master Job runs when first looked at: it ends as `outcome` says."""
        if job["metadata"]["labels"].get("loadline.dev/runner-role") != "master" or job["spec"].get("suspend"):
            return
        if job["status"] or self.cluster.outcome == "never":
            return
        if self.cluster.outcome == "succeed":
            job["status"] = {"succeeded": 1}
        else:
            job["status"] = {"failed": 1, "conditions": [{"type": "Failed", "status": "True",
                                                          "reason": "BackoffLimitExceeded",
                                                          "message": "Job has reached the specified backoff limit"}]}

    def _prometheus(self, path: str, query: dict[str, list[str]]) -> None:
        expr = query.get("query", [""])[0]
        now = time.time()
        if path != "/api/v1/query":
            return self._not_found(path)
        if expr.startswith("max(timestamp(up"):
            result = [{"metric": {}, "value": [now, f"{now + 1:.3f}"]}]
        elif expr.startswith("sum(increase(http_request_duration_seconds_count") and "5.." not in expr:
            result = [{"metric": {}, "value": [now, str(self.cluster.prometheus_requests)]}]
        elif expr.startswith("histogram_quantile(0.95, sum by (le) ("):
            result = [{"metric": {}, "value": [now, "0.04"]}]
        else:
            result = []
        self._send(200, {"status": "success", "data": {"resultType": "vector", "result": result}})

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        path, _ = self._record(body)
        c = self.cluster
        m = JOBS.match(path)
        if not m:
            return self._not_found(path)
        with c.lock:
            if c.refuse_create:
                return self._send(403, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                        "reason": "Forbidden", "code": 403,
                                        "message": 'jobs.batch is forbidden: User "u" cannot create resource'})
            name = body["metadata"]["name"]
            if name in c.jobs:
                return self._send(409, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                        "reason": "AlreadyExists", "code": 409, "message": "exists"})
            job = json.loads(json.dumps(body))
            if "selector" in job["spec"] or "controller-uid" in job["spec"]["template"]["metadata"]["labels"]:
                # The API server refuses a generated selector that does not match the new uid.
                return self._send(422, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                        "reason": "Invalid", "code": 422,
                                        "message": "spec.selector: Invalid value: `selector` not auto-generated"})
            _server_fields(job, f"uid-{len(c.jobs)}")
            job["status"] = {}
            job["_pods"] = [{"apiVersion": "v1", "kind": "Pod",
                             "metadata": {"name": f"{name}-x7k2p", "namespace": m["ns"],
                                          "labels": dict(job["spec"]["template"]["metadata"]["labels"])}}]
            c.jobs[name] = job
        self._send(201, {k: v for k, v in job.items() if k != "_pods"})

    def do_DELETE(self) -> None:  # noqa: N802
        path, _ = self._record()
        c = self.cluster
        m = JOBS.match(path)
        with c.lock:
            if not m or m["name"] not in c.jobs:
                return self._not_found(path)
            c.jobs.pop(m["name"])
            c.deleted.append(m["name"])
        self._send(200, {"kind": "Status", "apiVersion": "v1", "status": "Success"})


class FakeKubeApi:
    """`with FakeKubeApi(cluster) as url:` serves `cluster` on a loopback port."""

    def __init__(self, cluster: FakeCluster):
        handler = type("Handler", (_Handler,), {"cluster": cluster})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
