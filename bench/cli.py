"""`python -m bench.cli` (make bench-cli): how long the operator's commands take, median of N runs.

Each command runs as a user types it (the installed `loadline` script, a fresh process),
with its output discarded. The interpreter's own start-up (`python -c pass`) and the load
average are printed too: on a shared machine they say how much of a figure is the machine.
Beside the wall time, the CPU time the command and its children used: it moves much less
with the machine's load than the wall time does.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LOADLINE = str(Path(sys.executable).with_name("loadline"))


def commands(out_dir: str) -> list[tuple[str, list[str], float | None]]:
    """(label, argv, target seconds or None)."""
    return [
        ("python -c pass", [sys.executable, "-c", "pass"], None),
        ("loadline --help", [LOADLINE, "--help"], 0.3),
        ("loadline profile prod", [LOADLINE, "profile", "prod"], 0.3),
        ("loadline render --stack prod", [LOADLINE, "render", "--stack", "prod", "--out", out_dir], 3.0),
        ("loadline check --stack prod", [LOADLINE, "check", "--stack", "prod"], 2.0),
    ]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(argv: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the command and every process it waited for)."""
    cpu = _children_cpu()
    start = time.perf_counter()
    proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=300)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stderr[-2000:]}")
    return elapsed, _children_cpu() - cpu


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cli", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per command (default 5)")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs: must be >= 1")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          f"({os.cpu_count()} CPUs); median of {args.runs} runs", flush=True)
    with tempfile.TemporaryDirectory(prefix="loadline-bench-cli-") as out_dir:
        for label, argv, target in commands(out_dir):
            runs = [timed(argv) for _ in range(args.runs)]
            times = [wall for wall, _ in runs]
            median = statistics.median(times)
            cpu = statistics.median(c for _, c in runs)
            verdict = "" if target is None else f"  target <= {target:g} s: {'met' if median <= target else 'MISSED'}"
            print(f"{label:<30} median {median:6.2f} s  (min {min(times):.2f}, max {max(times):.2f}; "
                  f"cpu {cpu:.2f} s){verdict}", flush=True)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
