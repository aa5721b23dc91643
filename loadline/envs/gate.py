"""Run the load gate against a review stack and name its verdict.

The gate is called as a function (`loadline.gate.entry.judge`), the same one `loadline
loadtest` calls, so the exit code (0 met, 1 missed, 2 could not run) and the verdict are
the command's. Locust itself runs in a child process the gate starts, which keeps its
gevent patching out of this process.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from rich.console import Console

from loadline.envs.errors import EnvError
from loadline.envs.registry import Verdict as VerdictName
from loadline.gate.entry import GateError, GateOptions, judge
from loadline.gate.runner import GateRun
from loadline.gate.verdict import Verdict
from loadline.profile import Profile

URL_OUTPUTS = ("apiUrl", "api_url", "url")
API_KEY_OUTPUTS = ("apiKey", "api_key")


@dataclass(frozen=True)
class GateOutcome:
    """The gate's exit code, the name the registry records, and the verdict when there is one."""

    code: int
    name: VerdictName
    verdict: Verdict | None = None


def api_url(outputs: Mapping[str, Any], key: str | None = None) -> str | None:
    """The stack's exported API URL: `key` if given, else the first of URL_OUTPUTS present."""
    for k in ((key,) if key else URL_OUTPUTS):
        value = outputs.get(k)
        if isinstance(value, str) and value:
            return value
    return None


def output_api_key(outputs: Mapping[str, Any] | None) -> str | None:
    for k in API_KEY_OUTPUTS:
        if outputs and isinstance(outputs.get(k), str) and outputs[k]:
            return outputs[k]
    return None


def run_gate(name: str, host: str, report_dir: Path, *, api_key: str | None = None,
             allow_remote: bool = False, console: Console | None = None,
             prometheus: str | None = None, remote: Callable[[GateRun, Path], None] | None = None,
             profile: Profile | None = None, prometheus_session: requests.Session | None = None) -> GateOutcome:
    """Run the gate in the foreground (its progress streams to the terminal). `prometheus`:
    the stack's Prometheus, where the gate reads the server's own evidence. `remote`: the
    in-cluster runner that sends the load (`loadline.envs.runner`), with as many Locust
    workers as the profile's `load.runner.workers`."""
    console = console or Console()
    # LOADLINE_API_KEY wins over the stack's output, as it does for `loadline loadtest`.
    options = GateOptions(stack=name, host=host, report=report_dir, allow_remote=allow_remote,
                          api_key=os.environ.get("LOADLINE_API_KEY") or api_key, prometheus=prometheus,
                          remote=remote, profile=profile, prometheus_session=prometheus_session,
                          workers=profile.load.runner.workers if remote is not None and profile else None)
    try:
        result = judge(options, console)
    except GateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return GateOutcome(2, "error")
    except KeyboardInterrupt:
        raise EnvError(f"gate for {name}: interrupted") from None
    console.print(f"verdict: {result.path}", markup=False, highlight=False, soft_wrap=True)
    return GateOutcome(result.verdict.exit_code, "pass" if result.verdict.passed else "missed",
                       result.verdict)
