"""The real pack entry point, spoken to over the analyzer gRPC protocol the Pulumi engine uses.

There is no Pulumi CLI here, so this test plays the engine: it starts `policies/__main__.py`
with the stack config in PULUMI_CONFIG (as the engine does), reads the port the pack prints,
and calls GetAnalyzerInfo and Analyze. The process is always stopped at the end.
"""

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import grpc
import pytest
from google.protobuf import empty_pb2, struct_pb2
from policy_builders import container, deployment, hpa
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from loadline.profile import read_stack_config
from policies.guardrails import POLICIES
from policies.guardrails.exemptions import annotation

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 60


def _read_port(proc):
    box = {}
    reader = threading.Thread(target=lambda: box.setdefault("line", proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(START_TIMEOUT_S)
    line = box.get("line", b"").decode().strip()
    if not line.isdigit():
        raise AssertionError(f"the pack printed no port: {line!r} {proc.stderr.read1(4000)!r}")
    return int(line)


@pytest.fixture(scope="module")
def analyzer():
    profile = read_stack_config("prod")["loadline:profile"]
    env = {**os.environ, "PULUMI_CONFIG": json.dumps({"loadline:profile": json.dumps(profile)})}
    proc = subprocess.Popen([sys.executable, "policies/__main__.py"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        port = _read_port(proc)
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield analyzer_pb2_grpc.AnalyzerStub(channel)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _struct(obj):
    s = struct_pb2.Struct()
    s.update(json.loads(json.dumps(obj)))
    return s


def _analyze(stub, obj):
    return stub.Analyze(analyzer_pb2.AnalyzeRequest(
        type="kubernetes:apps/v1:Deployment", properties=_struct(obj),
        urn="urn:pulumi:prod::loadline::kubernetes:apps/v1:Deployment::web", name="web"))


def test_pack_lists_every_policy_mandatory_for_a_prod_stack(analyzer):
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == "loadline-guardrails"
    assert [p.name for p in info.policies] == [p.name for p in POLICIES]
    assert {p.enforcementLevel for p in info.policies} == {analyzer_pb2.MANDATORY}


def test_pack_reports_a_violation_and_passes_a_clean_deployment(analyzer):
    bad = _analyze(analyzer, deployment(containers=[container(image="nginx:latest")]))
    names = [(d.policyName, d.enforcementLevel) for d in bad.diagnostics]
    assert names == [("images-pinned", analyzer_pb2.MANDATORY), ("image-digests", analyzer_pb2.MANDATORY)]
    assert "floating tag latest" in bad.diagnostics[0].message
    assert list(_analyze(analyzer, deployment()).diagnostics) == []


def test_pack_reports_an_exemption_as_not_applicable(analyzer):
    exempt = deployment(containers=[container(image="nginx:latest")],
                        annotations={annotation("images-pinned"): "vendor pins by digest",
                                     annotation("image-digests"): "vendor pins by digest"})
    response = _analyze(analyzer, exempt)
    assert list(response.diagnostics) == []
    assert [(n.policy_name, "vendor pins by digest" in n.reason) for n in response.not_applicable] == [
        ("images-pinned", True), ("image-digests", True)]


def test_pack_stack_check_reports_against_the_resource_urn(analyzer):
    resources = [
        analyzer_pb2.AnalyzerResource(type="kubernetes:apps/v1:Deployment", properties=_struct(deployment(replicas=3)),
                                      urn="urn:pulumi:prod::loadline::kubernetes:apps/v1:Deployment::stack-web",
                                      name="stack-web"),
        analyzer_pb2.AnalyzerResource(type="kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
                                      properties=_struct(hpa()), name="stack-web-hpa",
                                      urn="urn:pulumi:prod::loadline::kubernetes:autoscaling/v2:HorizontalPodAutoscaler::stack-web-hpa"),
    ]
    response = analyzer.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=resources))
    owned = [d for d in response.diagnostics if d.policyName == "hpa-owns-replicas"]
    assert len(owned) == 1 and owned[0].urn.endswith("::stack-web") and owned[0].enforcementLevel == analyzer_pb2.MANDATORY
