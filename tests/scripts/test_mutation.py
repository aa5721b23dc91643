"""`make mutation`'s report: scores, and survivors judged against the documented equivalents."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("mutation_script", ROOT / "scripts" / "mutation.py")
assert _spec is not None and _spec.loader is not None
mutation = importlib.util.module_from_spec(_spec)
sys.modules["mutation_script"] = mutation
_spec.loader.exec_module(mutation)

MODULES = {"loadline/gate/decision.py": [], "app/ratelimit.py": []}
RESULTS = """
    loadline.gate.decision.x_decide__mutmut_1: killed
    loadline.gate.decision.x_decide__mutmut_2: timeout
    loadline.gate.decision.x_decide__mutmut_3: survived
    loadline.gate.decision.x_decide__mutmut_4: killed
    app.ratelimit.xǁRateLimiterǁcheck__mutmut_1: no tests
    app.ratelimit.xǁRateLimiterǁcheck__mutmut_2: killed
    loadline.profile.x_other__mutmut_1: survived
"""
DIFF = """--- loadline/gate/decision.py
+++ loadline/gate/decision.py
@@ -1,3 +1,3 @@
-    ratio = failed / requests if requests else 0.0
+    ratio = failed / requests if requests else 1.0
"""


def doc(tmp_path: Path, rows: str) -> Path:
    path = tmp_path / "testing.md"
    path.write_text(
        "# Testing\n\n### Equivalent mutants\n\n| mutant | mutated line | why |\n|---|---|---|\n"
        f"{rows}\n## Next section\n\n| `not.an.equivalent__mutmut_1` | `x` | a table elsewhere |\n"
    )
    return path


def test_scores_count_timeouts_as_killed_and_ignore_modules_not_run(capsys):
    rep = mutation.parse_results(RESULTS, MODULES)
    total, scores = mutation.print_scores(rep, MODULES)
    assert rep.score("loadline/gate/decision.py") == (3, 4)
    assert rep.score("app/ratelimit.py") == (1, 2)
    assert scores == {"loadline/gate/decision.py": 75.0, "app/ratelimit.py": 50.0}
    assert total == pytest.approx(100 * 4 / 6)
    assert set(rep.survivors) == {"loadline.gate.decision.x_decide__mutmut_3",
                                  "app.ratelimit.xǁRateLimiterǁcheck__mutmut_1"}
    assert "66.7%" in capsys.readouterr().out


def test_only_the_equivalents_table_is_read(tmp_path):
    path = doc(tmp_path, "| `loadline.gate.decision.x_decide__mutmut_3` | `else 1.0` | requests is never 0 there |")
    eq = mutation.documented_equivalents(path)
    assert eq == {"loadline.gate.decision.x_decide__mutmut_3":
                  mutation.Equivalent(mutated="else 1.0", reason="requests is never 0 there")}


def test_a_documented_survivor_is_equivalent_and_an_undocumented_one_fails(tmp_path, capsys):
    rep = mutation.parse_results(RESULTS, MODULES)
    eq = mutation.documented_equivalents(
        doc(tmp_path, "| `loadline.gate.decision.x_decide__mutmut_3` | `else 1.0` | requests is never 0 there |"))
    undocumented = mutation.judge_survivors(rep, eq, lambda name: DIFF)
    assert undocumented == ["app.ratelimit.xǁRateLimiterǁcheck__mutmut_1"]
    out = capsys.readouterr().out
    assert "equivalent    loadline.gate.decision.x_decide__mutmut_3: requests is never 0 there" in out
    assert "UNDOCUMENTED  app.ratelimit.xǁRateLimiterǁcheck__mutmut_1: no tests" in out


def test_a_documented_name_whose_mutation_moved_is_undocumented(tmp_path, capsys):
    """Mutant numbers shift when the code changes: the name alone must not excuse a new mutant."""
    rep = mutation.parse_results(RESULTS, MODULES)
    eq = mutation.documented_equivalents(
        doc(tmp_path, "| `loadline.gate.decision.x_decide__mutmut_3` | `rpartition` | something else |"))
    undocumented = mutation.judge_survivors(rep, eq, lambda name: DIFF)
    assert "loadline.gate.decision.x_decide__mutmut_3" in undocumented
    assert "no longer this mutant" in capsys.readouterr().out


def test_only_the_added_lines_of_the_diff_are_matched():
    assert mutation.is_the_documented_mutant(DIFF, "else 1.0")
    assert not mutation.is_the_documented_mutant(DIFF, "else 0.0")  # the removed line


def test_a_listed_equivalent_that_was_killed_is_reported_stale(tmp_path, capsys):
    rep = mutation.parse_results(RESULTS, MODULES)
    eq = mutation.documented_equivalents(
        doc(tmp_path, "| `loadline.gate.decision.x_decide__mutmut_1` | `else 1.0` | no longer survives |"))
    mutation.judge_survivors(rep, eq, lambda name: DIFF)
    assert "x_decide__mutmut_1 is listed as equivalent in docs/testing.md but did not survive" in (
        capsys.readouterr().out)


def test_every_module_and_test_in_the_mutation_set_exists():
    """A module moved or a test renamed would otherwise be mutated against nothing."""
    for module, tests in mutation.MODULES.items():
        assert (ROOT / module).is_file(), module
        assert tests, module
        for test in tests:
            assert (ROOT / test).is_file(), f"{module}: {test}"


def test_every_row_of_the_documented_equivalents_is_read():
    """A row in the wrong shape would leave its survivor undocumented without saying why."""
    text = mutation.EQUIVALENTS_DOC.read_text()
    section = text.split(mutation.EQUIVALENTS_HEADING, 1)[1].split("\n#", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    eq = mutation.documented_equivalents()
    assert len(eq) == len(rows)
    for name, e in eq.items():
        assert "__mutmut_" in name and e.mutated and e.reason, name


def test_a_mutant_is_judged_by_its_own_modules_tests_only(monkeypatch):
    """mutmut would run every selected test that reaches the mutant's function, whichever module listed it."""
    namespace: dict = {}
    exec(mutation.selection_conftest({"app/l1.py": ["tests/app/test_l1.py"],  # noqa: S102
                                      "app/ratelimit.py": ["tests/app/test_token_bucket.py"]}), namespace)
    collected = ["tests/app/test_l1.py::test_a", "tests/app/test_token_bucket.py::test_b",
                 "tests/app/test_token_bucket.py::test_c[1]"]

    class Config:
        deselected: list = []

        class hook:  # noqa: N801  (pytest's config.hook)
            @staticmethod
            def pytest_deselected(items):
                Config.deselected.extend(i.nodeid for i in items)

    def select(mutant: str) -> tuple[list[str], list[str]]:
        monkeypatch.setenv("MUTANT_UNDER_TEST", mutant)
        items = [type("Item", (), {"nodeid": n})() for n in collected]
        Config.deselected = []
        namespace["pytest_collection_modifyitems"](Config, items)
        return [i.nodeid for i in items], Config.deselected

    assert select("app.ratelimit.xǁRateLimiterǁcheck__mutmut_3") == (collected[1:], collected[:1])
    assert select("app.l1.xǁL1ǁget__mutmut_1") == (collected[:1], collected[1:])
    # mutmut's own runs (the statistics, the clean run, the forced failure) and other modules: every test.
    for name in ("stats", "", "fail", "app.cache.x_f__mutmut_1"):
        assert select(name) == (collected, [])


def test_the_shared_prometheus_is_stopped_but_never_a_process_that_reused_its_pid(tmp_path):
    import json
    import subprocess

    sleeper = [sys.executable, "-c", "import time; time.sleep(30)"]
    ours = subprocess.Popen([*sleeper, str(tmp_path / "0")])  # its root on its command line, as Prometheus's
    other = subprocess.Popen(sleeper)  # what a reused pid would look like
    try:
        (tmp_path / "started.json").write_text(json.dumps([
            {"pid": ours.pid, "root": str(tmp_path / "0")}, {"pid": other.pid, "root": str(tmp_path / "1")}]))
        mutation.stop_shared_prometheus(tmp_path)
        assert ours.wait(timeout=10) == -15
        assert other.poll() is None
    finally:
        for p in (ours, other):
            p.kill()
            p.wait()
    mutation.stop_shared_prometheus(tmp_path / "never-started")  # nothing recorded: nothing to do
