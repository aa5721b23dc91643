from loadline.gate.markdown import main, verdict_markdown
from loadline.gate.verdict import Verdict
from tests.verdict_schema import assert_valid_verdict

VERDICT = {
    "schemaVersion": 1, "stack": "pr-7", "host": "http://127.0.0.1:8000", "passed": False,
    "targets": {"p95_ms": 300.0, "p99_ms": None, "min_rps": 20.0, "max_error_ratio": 0.01},
    "measured": {"p50_ms": 10, "p95_ms": 320, "p99_ms": 500, "rps": 42.0, "error_ratio": 0.0, "requests": 1260,
                 "failures": 0},
    "per_endpoint": {"GET /v1/events/{event_id}": {"requests": 1260, "failures": 0, "p50_ms": 10,
                                                   "p95_ms": 320, "p99_ms": 500, "rps": 42.0,
                                                   "error_ratio": 0.0}},
    "failures": ["overall: p95 320 ms exceeds target 300 ms"],
    "fault": None,
    "alerts": None,
}


def test_failed_verdict_names_the_miss_and_each_endpoint():
    assert_valid_verdict(VERDICT)
    md = verdict_markdown(Verdict.model_validate(VERDICT))
    assert "❌ failed" in md and "`pr-7`" in md
    assert "| `GET /v1/events/{event_id}` | 1260 | 0 | 10 | 320 | 500 | 42.0 |" in md
    assert "- overall: p95 320 ms exceeds target 300 ms" in md
    assert "p99 ≤" not in md


def test_passed_verdict(tmp_path, capsys):
    import json
    path = tmp_path / "verdict.json"
    path.write_text(json.dumps({**VERDICT, "passed": True, "failures": []}))
    assert main([str(path)]) == 0
    out = capsys.readouterr().out
    assert "✅ passed" in out and "Failures" not in out
    assert main([str(tmp_path / "missing.json")]) == 2
