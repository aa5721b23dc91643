"""Run the load gate (`loadline loadtest`) against a review stack and name its verdict.

The gate is called as a command, not imported: its exit code (0 met, 1 missed, 2 could not
run) is the contract CI relies on, and a subprocess keeps Locust's gevent patching out of
this process.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from loadline.envs.errors import EnvError
from loadline.envs.registry import Verdict

URL_OUTPUTS = ("apiUrl", "api_url", "url")
API_KEY_OUTPUTS = ("apiKey", "api_key")
VERDICTS: dict[int, Verdict] = {0: "pass", 1: "missed"}


def api_url(outputs: Mapping[str, Any], key: str | None = None) -> str | None:
    """The stack's exported API URL: `key` if given, else the first of URL_OUTPUTS present."""
    for k in ((key,) if key else URL_OUTPUTS):
        value = outputs.get(k)
        if isinstance(value, str) and value:
            return value
    return None


def gate_command(name: str, host: str, report_dir: Path, allow_remote: bool = False) -> list[str]:
    exe = Path(sys.executable).with_name("loadline")
    base = [str(exe)] if exe.exists() else [shutil.which("loadline") or "loadline"]
    cmd = base + ["loadtest", "--stack", name, "--host", host, "--report", str(report_dir)]
    if allow_remote:
        cmd.append("--allow-remote")
    return cmd


def output_api_key(outputs: Mapping[str, Any] | None) -> str | None:
    for k in API_KEY_OUTPUTS:
        if outputs and isinstance(outputs.get(k), str) and outputs[k]:
            return outputs[k]
    return None


def run_gate(name: str, host: str, report_dir: Path, *, api_key: str | None = None,
             allow_remote: bool = False) -> tuple[int, Verdict]:
    """Run the gate in the foreground (its progress streams to the terminal)."""
    env = dict(os.environ)
    if api_key and "LOADLINE_API_KEY" not in env:
        env["LOADLINE_API_KEY"] = api_key
    try:
        code = subprocess.run(gate_command(name, host, report_dir, allow_remote), env=env).returncode
    except KeyboardInterrupt:
        raise EnvError(f"gate for {name}: interrupted") from None
    return code, VERDICTS.get(code, "error")
