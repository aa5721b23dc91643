"""Reach a review env's API from outside the cluster, for the gate.

The program exports the API as a cluster-internal URL (`http://<svc>.<ns>.svc.cluster.local`),
which the machine running the gate cannot resolve. `kubectl port-forward` makes it a
loopback URL for exactly as long as the gate runs, and the API key comes from the Secret
holding `EVENTS_API_KEYS` in the env's namespace.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from loadline.envs.errors import EnvError
from loadline.subprocesses import terminate

_SERVICE_URL = re.compile(
    r"^(?P<scheme>https?)://(?P<service>[a-z0-9]([-a-z0-9]*[a-z0-9])?)\."
    r"(?P<namespace>[a-z0-9]([-a-z0-9]*[a-z0-9])?)\.svc(\.cluster\.local)?\.?"
    r"(:(?P<port>[0-9]{1,5}))?(?P<path>/.*)?$")
KUBECTL_INSTALL = "https://kubernetes.io/docs/tasks/tools/ (or: brew install kubectl)"


@dataclass(frozen=True)
class ServiceRef:
    scheme: str
    service: str
    namespace: str
    port: int
    path: str


def parse_service_url(url: str) -> ServiceRef | None:
    """The Service behind a cluster-internal URL, or None for any other URL."""
    m = _SERVICE_URL.match(url)
    if not m:
        return None
    default = 443 if m["scheme"] == "https" else 80
    return ServiceRef(m["scheme"], m["service"], m["namespace"], int(m["port"] or default),
                      m["path"] or "")


def require_kubectl(next_command: str, path: str | None = None) -> str:
    found = shutil.which("kubectl", path=path)
    if found:
        return found
    raise EnvError(
        "kubectl is not installed; the gate reaches the cluster-internal API through "
        f"`kubectl port-forward`.\n  install it: {KUBECTL_INSTALL}\n"
        f"  or skip the gate (--no-gate) or give a reachable URL (--gate-host URL), then run:\n"
        f"    {next_command}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def port_forward(ref: ServiceRef, kubectl: str, timeout: float = 30) -> Iterator[str]:
    """Forward a free loopback port to the Service; yield the loopback URL; always stop kubectl."""
    local = _free_port()
    proc = subprocess.Popen(
        [kubectl, "-n", ref.namespace, "port-forward", f"svc/{ref.service}",
         f"{local}:{ref.port}", "--address", "127.0.0.1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + timeout
        while not _listening(local):
            if proc.poll() is not None:
                err = (proc.stderr.read() if proc.stderr else "").strip()
                raise EnvError(f"kubectl port-forward to svc/{ref.service} in {ref.namespace} "
                               f"exited ({proc.returncode}): {err or 'no output'}")
            if time.monotonic() > deadline:
                raise EnvError(f"kubectl port-forward to svc/{ref.service} in {ref.namespace} "
                               f"did not listen within {timeout:.0f}s")
            time.sleep(0.2)
        yield f"http://127.0.0.1:{local}{ref.path}"
    finally:
        terminate(proc, grace_s=5)
        if proc.stderr:
            proc.stderr.close()


def api_key_from_cluster(namespace: str, kubectl: str) -> str | None:
    """The first key of EVENTS_API_KEYS in the namespace's Secrets, or None if there is none."""
    proc = subprocess.run([kubectl, "-n", namespace, "get", "secrets", "-o", "json"],
                          capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise EnvError(f"kubectl get secrets in {namespace} failed: {proc.stderr.strip()}")
    for item in json.loads(proc.stdout).get("items", []):
        encoded = (item.get("data") or {}).get("EVENTS_API_KEYS")
        if encoded:
            keys = base64.b64decode(encoded).decode()
            return keys.split(",")[0].strip() or None
    return None
