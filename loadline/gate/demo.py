"""The demo: the local environment up, the gate against it with the same profile, down (always)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

from loadline.faults.spec import FaultSpecError, parse_fault
from loadline.gate.entry import GateError, GateOptions, GateResult, judge
from loadline.local import env
from loadline.local.bringup import bring_up
from loadline.local.state import read_api_key, workdir
from loadline.profile import load_profile


def run_demo(stack: str, console: Console, *, report: Path | None = None,
             duration: str | None = None, faults: tuple[str, ...] = (), **overrides: Any) -> GateResult:
    """The gate's result. Raises ProfileError, LocalError or GateError when it cannot run.

    `overrides`: other GateOptions fields, such as rps, workers or p95_ms."""
    profile = load_profile(stack)
    # A mistyped --fault is refused before anything is started.
    for text in faults:
        try:
            parse_fault(text)
        except FaultSpecError as exc:
            raise GateError(str(exc)) from None
    wd = workdir()
    state = bring_up(profile, stack, wd, console)
    try:
        console.print(f"local environment up: api {state['api_url']}, prometheus {state['prometheus_url']}")
        options = GateOptions(stack=stack, host=state["api_url"], report=report, duration=duration,
                              api_key=read_api_key(wd), profile=profile, faults=faults, **overrides)
        return judge(options, console)
    finally:
        with console.status("local down"):
            env.down(wd)
        console.print("local environment down")
