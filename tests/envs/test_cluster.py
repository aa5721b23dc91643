import socket
import stat
import sys
import urllib.request
from pathlib import Path

import pytest

from loadline.envs.cluster import (
    ServiceRef,
    api_key_from_cluster,
    parse_service_url,
    port_forward,
    require_kubectl,
)
from loadline.envs.errors import EnvError

HERE = Path(__file__).resolve().parent


@pytest.fixture
def kubectl(tmp_path):
    exe = tmp_path / "kubectl"
    exe.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{HERE / "fake_kubectl.py"}" "$@"\n')
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return str(exe)


@pytest.mark.parametrize("url,ref", [
    ("http://api.review-pr-1.svc.cluster.local", ServiceRef("http", "api", "review-pr-1", 80, "")),
    ("http://api.review-pr-1.svc:8000/v1", ServiceRef("http", "api", "review-pr-1", 8000, "/v1")),
    ("https://api.ns.svc.cluster.local", ServiceRef("https", "api", "ns", 443, "")),
])
def test_cluster_internal_urls(url, ref):
    assert parse_service_url(url) == ref


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000", "https://api.example.com", "http://api.ns.svc.example.com"])
def test_other_urls_are_left_alone(url):
    assert parse_service_url(url) is None


def test_missing_kubectl_says_what_to_do(tmp_path):
    with pytest.raises(EnvError, match=r"kubectl is not installed(.|\n)*--no-gate(.|\n)*loadline env up pr-1"):
        require_kubectl("loadline env up pr-1", path=str(tmp_path))


def test_port_forward_yields_a_loopback_url_and_stops_kubectl(kubectl):
    ref = parse_service_url("http://api.review-pr-1.svc.cluster.local/base")
    with port_forward(ref, kubectl) as url:
        assert url.startswith("http://127.0.0.1:") and url.endswith("/base")
        port = int(url.split(":")[2].split("/")[0])
        body = urllib.request.urlopen(url, timeout=5).read().decode()
        assert body == "svc/api.review-pr-1:80"
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0  # kubectl is gone


def test_port_forward_failure_is_reported(kubectl, monkeypatch):
    monkeypatch.setenv("FAKE_KUBECTL_FAIL", "port-forward")
    ref = parse_service_url("http://nope.review-pr-1.svc.cluster.local")
    with pytest.raises(EnvError, match=r'port-forward to svc/nope in review-pr-1 exited \(1\): error: services "nope" not found'), \
            port_forward(ref, kubectl):
        pass


def test_api_key_from_the_namespace_secret(kubectl):
    assert api_key_from_cluster("review-pr-1", kubectl) == "key-one"


def test_the_gate_reads_the_stacks_prometheus_through_its_own_forward(kubectl, tmp_path, monkeypatch):
    """A review stack's Prometheus is as cluster-internal as its API: both are forwarded, and the
    gate is given the forwarded Prometheus, so its server-side evidence can be read."""
    from datetime import UTC, datetime, timedelta

    from rich.console import Console

    from loadline.envs import lifecycle
    from loadline.envs.gate import GateOutcome
    from loadline.envs.registry import EnvRecord

    monkeypatch.setattr(lifecycle, "require_kubectl", lambda _next: kubectl)
    monkeypatch.setattr(lifecycle, "_report_dir", lambda name: tmp_path / name)
    seen: dict = {}

    def fake_gate(name, host, report, **kw):
        seen.update(host=host, **kw)
        with urllib.request.urlopen(kw["prometheus"], timeout=5) as r:  # the forward really answers
            seen["prometheus_answer"] = r.read().decode()
        return GateOutcome(0, "pass")

    monkeypatch.setattr(lifecycle, "run_gate", fake_gate)

    class Registry:
        def save(self, record):
            seen["saved"] = record.last_verdict

    now = datetime.now(UTC)
    record = EnvRecord(name="pr-1", from_stack="dev", owner="jane", created=now, expires=now + timedelta(hours=1),
                       backend="file:///nowhere", finished=True)
    outputs = {"apiKey": "k" * 16, "prometheusUrl": "http://loadline-prometheus.review-pr-1.svc.cluster.local:9090"}
    verdict = lifecycle._record_gate(Registry(), record, "http://api.review-pr-1.svc.cluster.local:8000", Console(),
                                     allow_remote=False, forward=True, outputs=outputs, via="port-forward")
    assert verdict == "pass" and seen["saved"] == "pass"
    assert seen["host"].startswith("http://127.0.0.1:")
    assert seen["prometheus"].startswith("http://127.0.0.1:") and seen["prometheus"] != seen["host"]
    assert seen["prometheus_answer"] == "svc/loadline-prometheus.review-pr-1:9090"
