"""The typed verdict: built from the decision, written as the published schema says."""

import json

import pytest
from pydantic import ValidationError

from loadline.gate import verdict as verdict_module
from loadline.gate.decision import Decision, EndpointStats, RunStats, Targets, decide
from loadline.gate.verdict import SCHEMA_PATH, Verdict, schema_text
from tests.verdict_schema import assert_valid_verdict, schema_errors

GET = EndpointStats(requests=900, failures=3, p50_ms=4, p95_ms=12, p99_ms=40.5, rps=30.0)
POST = EndpointStats(requests=100, failures=0, p50_ms=9, p95_ms=24, p99_ms=80, rps=3.333333)
TOTAL = EndpointStats(requests=1000, failures=3, p50_ms=5, p95_ms=20, p99_ms=60, rps=33.333333)
STATS = RunStats(total=TOTAL, endpoints={"POST /v1/events": POST, "GET /v1/events/{event_id}": GET})


TARGETS = Targets(p95_ms=25.0, min_rps=10.0, max_error_ratio=0.01)


def build(targets: Targets = TARGETS) -> Verdict:
    return Verdict.build(stack="local", host="http://127.0.0.1:8000", targets=targets,
                         stats=STATS, decision=decide(targets, STATS), error_details=["GET x: 3x boom"])


def test_published_schema_is_generated_from_the_model():
    # Regenerate with: python -m loadline.gate.verdict > docs/verdict.schema.json
    assert json.loads(SCHEMA_PATH.read_text()) == json.loads(schema_text()), \
        "docs/verdict.schema.json is out of date: python -m loadline.gate.verdict > docs/verdict.schema.json"


def test_verdict_json_keeps_its_keys_and_values(tmp_path):
    path = build().write(tmp_path / "verdict.json")
    data = json.loads(path.read_text())
    assert list(data) == ["schemaVersion", "stack", "host", "passed", "targets", "measured",
                          "per_endpoint", "failures", "fault", "alerts", "load", "server", "baseline"]
    assert data["load"] is None  # built without a load section
    assert data["schemaVersion"] == 1
    assert data["targets"] == {"p95_ms": 25.0, "min_rps": 10.0, "max_error_ratio": 0.01, "p99_ms": None}
    assert data["measured"] == {"p50_ms": 5, "p95_ms": 20, "p99_ms": 60, "rps": 33.33,
                                "error_ratio": 0.003, "requests": 1000, "failures": 3}
    # Whole milliseconds stay integers, as Locust reports them.
    assert '"p95_ms": 20,' in path.read_text()
    assert list(data["per_endpoint"]) == ["GET /v1/events/{event_id}", "POST /v1/events"]
    assert data["per_endpoint"]["GET /v1/events/{event_id}"]["p99_ms"] == 40.5
    assert data["passed"] is True and data["failures"] == ["GET x: 3x boom"]
    assert data["fault"] is None
    assert_valid_verdict(data)


def test_missed_target_fails_with_exit_1_and_reads_back(tmp_path):
    v = build(Targets(p95_ms=10.0, min_rps=10.0, max_error_ratio=0.01, p99_ms=50.0))
    assert (v.passed, v.exit_code) == (False, 1)
    assert any(f.startswith("overall: p95 20 ms") for f in v.failures)
    assert Verdict.read(v.write(tmp_path / "verdict.json")) == v
    assert build().exit_code == 0


def test_a_verdict_without_failures_count_or_version_still_reads(tmp_path):
    data = json.loads(build().to_json())
    del data["schemaVersion"], data["measured"]["failures"]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(data))
    assert Verdict.read(path).measured.failures == 3


@pytest.mark.parametrize("breakage, where", [
    (lambda d: d.pop("passed"), "(root)"),
    (lambda d: d["measured"].update(requests="many"), "measured/requests"),
    (lambda d: d["targets"].update(max_error_ratio=2), "targets/max_error_ratio"),
    (lambda d: d.update(schemaVersion=2), "schemaVersion"),
])
def test_schema_refuses_a_broken_verdict(breakage, where):
    data = json.loads(build().to_json())
    breakage(data)
    errors = schema_errors(data)
    assert errors and errors[0].startswith(where), errors
    with pytest.raises(ValidationError):
        Verdict.model_validate(data)


def test_no_request_means_failed():
    empty = RunStats(total=EndpointStats(0, 0, 0, 0, 0, 0.0))
    targets = Targets(p95_ms=25.0, min_rps=0.0, max_error_ratio=0.01)
    v = Verdict.build(stack="s", host="h", targets=targets, stats=empty, decision=decide(targets, empty))
    assert not v.passed and v.measured.error_ratio == 0
    assert_valid_verdict(json.loads(v.to_json()))


def test_decision_is_carried_unchanged():
    d = Decision(False, ["overall: x"])
    v = Verdict.build(stack="s", host="h", targets=Targets(1, 1, 0.1), stats=STATS, decision=d)
    assert (v.passed, v.failures) == (False, ["overall: x"])
    assert v.schema_version == verdict_module.SCHEMA_VERSION
