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
    "load": {"model": "open", "target_rps": 40, "offered_rps": 39.5, "achieved_rps": 42.0, "users": 10,
             "per_user_rps": 4, "duration_s": 30, "warmup_s": 0, "workers": 2, "generator_cpu_warning": False,
             "late_ratio": 0.0},
    "server": {"available": False, "reason": "not asked (--no-server-evidence)", "prometheus_url": None,
               "window_start": None, "window_end": None, "requests": None, "p95_ms": None, "p99_ms": None,
               "error_5xx_ratio": None, "cache_hit_ratio": None, "cache_hit_ratio_target": None,
               "cache_lookups": None, "pool_saturation_max": None, "pool_saturation_mean": None,
               "per_route": {}, "alerts_fired": [], "failures": []},
    "baseline": None,
}


def test_failed_verdict_names_the_miss_and_each_endpoint():
    assert_valid_verdict(VERDICT)
    md = verdict_markdown(Verdict.model_validate(VERDICT))
    assert "❌ failed" in md and "`pr-7`" in md
    assert "| `GET /v1/events/{event_id}` | 1260 | 0 | 10 | 320 | 500 | 42.0 |" in md
    assert "- overall: p95 320 ms exceeds target 300 ms" in md
    assert "p99 ≤" not in md
    assert "Server (Prometheus): no evidence: not asked (--no-server-evidence)" in md
    assert "Load: offered 39.5 rps (target 40), achieved 42 rps; 10 users at 4 rps each, 0.0% late; 2 workers" in md


def test_passed_verdict(tmp_path, capsys):
    import json
    path = tmp_path / "verdict.json"
    path.write_text(json.dumps({**VERDICT, "passed": True, "failures": []}))
    assert main([str(path)]) == 0
    out = capsys.readouterr().out
    assert "✅ passed" in out and "Failures" not in out
    assert main([str(tmp_path / "missing.json")]) == 2
