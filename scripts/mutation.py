"""Mutation score of the modules whose logic decides outcomes (`make mutation`).

Each module is mutated by mutmut and judged by its fast tests only. The run happens in a
scratch copy of the tracked files, so the checkout is never touched and the config below is
the only place the module list lives. Prints a score per module, the total, and every
surviving mutant.

Equivalent mutants (survivors no test can kill because the program's behaviour is the same)
are listed in docs/testing.md, each with the line it mutates to and a reason. They still count
as survivors in the scores, but are shown as equivalent; a survivor not listed there (or
listed with a line that is no longer what the mutant changes) is shown as UNDOCUMENTED.
Exits 1 when the total is under TOTAL_FLOOR, a module is under MODULE_FLOOR, or any survivor
is undocumented.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Module to mutate -> the fast tests that judge it. Adding a module is one line here.
MODULES: dict[str, list[str]] = {
    "loadline/gate/decision.py": ["tests/gate/test_decision.py"],
    "loadline/gate/fault_report.py": ["tests/gate/test_fault_report.py"],
    "loadline/gate/baseline.py": ["tests/gate/test_baseline.py"],
    "loadline/gate/arrival.py": ["tests/gate/test_arrival.py"],
    "loadline/gate/evidence.py": ["tests/gate/test_evidence.py", "tests/gate/test_evidence_prometheus.py"],
    "loadline/faults/spec.py": ["tests/faults/test_spec.py"],
    "loadline/profile.py": ["tests/loadline/test_profile.py"],
    "loadline/envs/gc.py": ["tests/envs/test_registry_gc.py"],
    "app/ratelimit.py": ["tests/app/test_token_bucket.py", "tests/app/test_held_tokens.py"],
    "app/cache.py": ["tests/app/test_cache_unit.py", "tests/app/test_cache_breaker_open.py"],
    "app/search_pages.py": ["tests/app/test_search_pages.py", "tests/app/test_search_page_spans.py",
                            "tests/app/test_write_log.py"],
    "app/l1.py": ["tests/app/test_l1_bounds.py", "tests/app/test_l1.py"],
    # Not tests/app/test_invalidation.py: its servers run the subscriber in child processes, where
    # mutmut cannot see which mutant a test reaches, so it never judges one.
    "app/invalidation.py": ["tests/app/test_subscriber.py"],
    "app/breaker.py": ["tests/app/test_breaker.py"],
    "policies/guardrails/images.py": ["tests/policies/test_policy_images.py",
                                      "tests/policies/test_policy_hardening.py"],
    "policies/guardrails/workloads.py": ["tests/policies/test_policy_workloads.py",
                                         "tests/policies/test_policy_hardening.py"],
    "policies/guardrails/availability.py": ["tests/policies/test_policy_availability.py"],
    "policies/guardrails/secrets.py": ["tests/policies/test_policy_secrets.py",
                                       "tests/policies/test_policy_hardening.py"],
    "policies/guardrails/exemptions.py": ["tests/policies/test_policy_exemptions.py"],
    "policies/guardrails/stack.py": ["tests/policies/test_policy_stack.py"],
    "policies/guardrails/monitoring.py": ["tests/policies/test_policy_stack.py",
                                          "tests/policies/test_policy_monitoring.py"],
}

TOTAL_FLOOR = 90.0
# A full run keeps two cores busy for a long time; the niceness leaves them to interactive work.
NICENESS = 15
MODULE_FLOOR = 80.0
# Copied beside the sources: data the tests read (stack files, the policy pack's config), and
# the conftest that keeps each mutant to its own module's tests.
ALSO_COPY = ["stacks", "policies", "Pulumi.yaml", "__main__.py", "scripts", "docs", "README.md", "conftest.py"]
SOURCE_DIRS = ["app", "loadline", "components", "policies", "loadtests"]


def _toml_list(items: list[str]) -> str:
    return "[" + ", ".join(f'"{i}"' for i in items) + "]"


# mutmut judges a mutant by every selected test that reaches its function, whichever module
# listed the test: a run of several modules would judge the rate limiter's mutants by the L1
# tests too, which start the whole app on PostgreSQL. This conftest, written at the scratch
# copy's root, deselects every test its mutant's module does not list, so a mutant is judged
# by the same tests in a run of every module as in a run of its own.
SELECTION_CONFTEST = """\"\"\"Written by scripts/mutation.py: a mutant is judged by its own module's tests only.\"\"\"
import os

TESTS = {tests!r}


def pytest_collection_modifyitems(config, items):
    mutant = os.environ.get("MUTANT_UNDER_TEST", "")
    own = next((files for module, files in TESTS.items() if mutant.startswith(module + ".")), None)
    if "__mutmut_" not in mutant or own is None:
        return
    others = [item for item in items if item.nodeid.split("::")[0] not in own]
    if others:
        config.hook.pytest_deselected(items=others)
        items[:] = [item for item in items if item.nodeid.split("::")[0] in own]
"""


def selection_conftest(modules: dict[str, list[str]]) -> str:
    tests = {m[:-3].replace("/", "."): sorted(ts) for m, ts in modules.items()}
    return SELECTION_CONFTEST.format(tests=tests)


def prepare(workdir: Path, modules: dict[str, list[str]]) -> None:
    """A scratch copy of the tracked files, with mutmut's config for `modules` appended."""
    if workdir.exists():
        shutil.rmtree(workdir)
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, check=True,
                           capture_output=True, text=True).stdout.split()
    for name in files:
        src = ROOT / name
        if src.is_file():
            dst = workdir / name
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
    tests = sorted({t for ts in modules.values() for t in ts})
    config = (
        "\n[tool.mutmut]\n"
        f"source_paths = {_toml_list(SOURCE_DIRS)}\n"
        f"only_mutate = {_toml_list(sorted(modules))}\n"
        f"also_copy = {_toml_list(ALSO_COPY)}\n"
        f"pytest_add_cli_args_test_selection = {_toml_list(tests)}\n"
        'pytest_add_cli_args = ["-p", "no:cacheprovider", "-p", "no:randomly", "-q"]\n'
        # mutmut's default runner reaps any child of its own process as a mutant's and stops on one
        # it did not start (a server a test run in that process left to exit later); its fork
        # server ignores those.
        'process_isolation = "forkserver"\n'
    )
    with (workdir / "pyproject.toml").open("a") as f:
        f.write(config)
    (workdir / "conftest.py").write_text(selection_conftest(modules))


# evidence.py's tests read a Prometheus that answers every mutant alike: in a mutation run they
# share one (tests/gate/test_evidence_prometheus.py) instead of starting one per mutant, and
# the run stops what they left running.
SHARED_PROMETHEUS_ENV = "LOADLINE_TEST_PROMETHEUS_DIR"


def stop_shared_prometheus(directory: Path) -> None:
    started = directory / "started.json"
    if not started.exists():
        return
    for entry in json.loads(started.read_text()):
        try:
            cmdline = Path(f"/proc/{entry['pid']}/cmdline").read_bytes()
        except OSError:
            continue
        if entry["root"].encode() in cmdline:  # still that Prometheus, not a reused pid
            with contextlib.suppress(ProcessLookupError):
                os.kill(entry["pid"], signal.SIGTERM)


def _module_of(key: str, modules: dict[str, list[str]]) -> str | None:
    # A key reads `loadline.gate.decision.x_decide__mutmut_3` or `...xǁClassǁmethod__mutmut_1`.
    dotted = {m[:-3].replace("/", "."): m for m in modules}
    for prefix in sorted(dotted, key=len, reverse=True):
        if key.startswith(prefix + "."):
            return dotted[prefix]
    return None


# A mutant that hangs the tests is caught by the timeout: it counts as killed.
KILLED = {"killed", "timeout"}
EQUIVALENTS_DOC = ROOT / "docs" / "testing.md"
EQUIVALENTS_HEADING = "### Equivalent mutants"
# | `name` | `the mutated line, as mutmut shows it` | reason |
_EQUIVALENT_ROW = re.compile(r"^\|\s*`([^`]+)`\s*\|\s*`(.+?)`\s*\|\s*(.+?)\s*\|\s*$")


@dataclass(frozen=True)
class Equivalent:
    """A survivor documented as equivalent: the line it mutates to, and why that changes nothing."""

    mutated: str
    reason: str


def documented_equivalents(doc: Path = EQUIVALENTS_DOC) -> dict[str, Equivalent]:
    """The table under `### Equivalent mutants` in docs/testing.md, by mutant name."""
    found: dict[str, Equivalent] = {}
    inside = False
    for line in doc.read_text().splitlines():
        if line.startswith("#"):
            inside = line.strip() == EQUIVALENTS_HEADING
            continue
        m = _EQUIVALENT_ROW.match(line) if inside else None
        if m:
            found[m.group(1)] = Equivalent(mutated=m.group(2).strip(), reason=m.group(3))
    return found


def is_the_documented_mutant(diff: str, mutated: str) -> bool:
    """Mutant numbers move when the code changes; the documented line must still be the mutation."""
    added = [line[1:].strip() for line in diff.splitlines()
             if line.startswith("+") and not line.startswith("+++")]
    return any(mutated in line for line in added)


@dataclass
class Report:
    counts: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    survivors: dict[str, str] = field(default_factory=dict)  # name -> status

    def score(self, module: str) -> tuple[int, int]:
        c = self.counts.get(module, {})
        return sum(n for s, n in c.items() if s in KILLED), sum(c.values())


def parse_results(results: str, modules: dict[str, list[str]]) -> Report:
    rep = Report()
    for line in results.splitlines():
        m = re.match(r"\s*(\S+): (.+)$", line)
        if not m:
            continue
        key, status = m.group(1), m.group(2).strip()
        module = _module_of(key, modules)
        if module is None:
            continue
        rep.counts[module][status] += 1
        if status not in KILLED:
            rep.survivors[key] = status
    return rep


def print_scores(rep: Report, modules: dict[str, list[str]]) -> tuple[float, dict[str, float]]:
    scores = {}
    killed_all = total_all = 0
    print(f"\n{'module':45} {'killed':>7} {'total':>6} {'score':>7}")
    for module in modules:
        killed, total = rep.score(module)
        scores[module] = 100.0 * killed / total if total else 100.0
        killed_all += killed
        total_all += total
        print(f"{module:45} {killed:7d} {total:6d} {scores[module]:6.1f}%")
    total_score = 100.0 * killed_all / total_all if total_all else 100.0
    print(f"{'total':45} {killed_all:7d} {total_all:6d} {total_score:6.1f}%")
    return total_score, scores


def judge_survivors(rep: Report, equivalents: dict[str, Equivalent],
                    diff_of: Callable[[str], str]) -> list[str]:
    """Print every survivor as documented-equivalent or not; return the undocumented ones."""
    undocumented = []
    lines = []
    for name, status in sorted(rep.survivors.items()):
        eq = equivalents.get(name)
        if eq is not None and status == "survived" and is_the_documented_mutant(diff_of(name), eq.mutated):
            lines.append(f"  equivalent    {name}: {eq.reason}")
        else:
            why = status if eq is None else f"{status}; documented as `{eq.mutated}`, which is no longer this mutant"
            lines.append(f"  UNDOCUMENTED  {name}: {why}")
            undocumented.append(name)
    print(f"\nsurvivors: {len(rep.survivors)} ({len(rep.survivors) - len(undocumented)} documented as "
          f"equivalent in docs/testing.md, {len(undocumented)} not)")
    for line in lines:
        print(line)
    run = set(rep.counts)
    stale = sorted(n for n in equivalents if n not in rep.survivors and _module_of_any(n, run))
    for name in stale:
        print(f"  note: {name} is listed as equivalent in docs/testing.md but did not survive; remove it")
    return undocumented


def _module_of_any(name: str, modules: set[str]) -> bool:
    return _module_of(name, {m: [] for m in modules}) is not None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help="only these modules (paths as in MODULES)")
    parser.add_argument("--workdir", type=Path, default=ROOT / ".mutation")
    # Two children at most: the machine is shared, and more only makes the Redis-backed tests
    # of app/ compete for the same cores.
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--report-only", action="store_true",
                        help="judge the last run in --workdir again (after documenting an equivalent), without "
                             "mutating anything")
    args = parser.parse_args()
    unknown = [m for m in args.modules if m not in MODULES]
    if unknown:
        print(f"error: not in the mutation set: {', '.join(unknown)} (see MODULES in {__file__})",
              file=sys.stderr)
        return 2
    modules = {m: MODULES[m] for m in (args.modules or MODULES)}
    started = time.monotonic()
    mutmut = [sys.executable, "-m", "mutmut"]
    if args.report_only:
        if not (args.workdir / "mutants").is_dir():
            print(f"error: no mutation run in {args.workdir} to report on", file=sys.stderr)
            return 2
    else:
        prepare(args.workdir, modules)
        log = args.workdir / "mutmut-run.log"
        print(f"mutating {len(modules)} modules with {args.jobs} workers; progress in {log}", flush=True)
        prometheus = args.workdir / "prometheus"
        try:
            with log.open("w") as out:
                run = subprocess.run(["nice", "-n", str(NICENESS), *mutmut, "run", "--max-children", str(args.jobs)],
                                     cwd=args.workdir, stdout=out, stderr=subprocess.STDOUT,
                                     env={**os.environ, SHARED_PROMETHEUS_ENV: str(prometheus)})
        finally:
            stop_shared_prometheus(prometheus)
        if run.returncode not in (0, 1):
            print(log.read_text()[-3000:], file=sys.stderr)
            print(f"error: mutmut run exited {run.returncode}", file=sys.stderr)
            return run.returncode
    results = subprocess.run([*mutmut, "results", "--all", "true"], cwd=args.workdir, check=True,
                             capture_output=True, text=True).stdout
    rep = parse_results(results, modules)
    total, scores = print_scores(rep, modules)

    def diff_of(name: str) -> str:
        return subprocess.run([*mutmut, "show", name], cwd=args.workdir, check=True,
                              capture_output=True, text=True).stdout

    undocumented = judge_survivors(rep, documented_equivalents(), diff_of)
    print(f"\n{'report' if args.report_only else 'mutation run'} took {time.monotonic() - started:.0f} s; "
          f"inspect one with: cd {args.workdir} && {sys.executable} -m mutmut show <name>")
    low = [m for m, s in scores.items() if s < MODULE_FLOOR]
    if total < TOTAL_FLOOR or low or undocumented:
        print(f"FAIL: total {total:.1f}% (floor {TOTAL_FLOOR}%), modules under {MODULE_FLOOR}%: "
              f"{', '.join(low) or 'none'}, survivors not documented as equivalent: {len(undocumented)}",
              file=sys.stderr)
        return 1
    print(f"PASS: total {total:.1f}% (floor {TOTAL_FLOOR}%), every module at {MODULE_FLOOR}% or more, "
          "every survivor documented as equivalent")
    return 0


if __name__ == "__main__":
    sys.exit(main())
