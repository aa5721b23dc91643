"""The local Alertmanager: the rendered configuration, its receiver pointed at the load gate.

Prometheus sends its alerts here; every notification goes to a webhook on loopback that
`loadline loadtest` listens on while it runs (its port is chosen at `up` and recorded in
state.json), so the gate's verdict lists the alerts that fired during the run. Between
runs nothing listens there and Alertmanager keeps retrying, which is harmless.
Debian's package installs the server as `prometheus-alertmanager`; upstream calls it
`alertmanager`.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

from components.monitoring.alertmanager import alertmanager_config
from loadline.profile import Profile

BINARIES = ("prometheus-alertmanager", "alertmanager")
PACKAGE = "prometheus-alertmanager"
# Short timings: a gate run lasts minutes, and an alert must reach it within seconds of firing.
LOCAL_TIMINGS = {"group_wait": "1s", "group_interval": "5s", "repeat_interval": "1h"}


class AlertmanagerConfigError(Exception):
    pass


def binary() -> str | None:
    for name in BINARIES:
        path = shutil.which(name)
        if path:
            return path
    return None


def write_config(profile: Profile, out: Path, *, webhook_url: str) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "alertmanager.yml"
    path.write_text(yaml.safe_dump(alertmanager_config(profile, webhook_url=webhook_url, **LOCAL_TIMINGS),
                                   sort_keys=False))
    check(path)
    return path


def check(path: Path) -> None:
    """amtool validates the file before Alertmanager starts with it."""
    try:
        res = subprocess.run(["amtool", "check-config", str(path)], capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        raise AlertmanagerConfigError(f"amtool not found ({PACKAGE}; make setup installs it)") from None
    if res.returncode != 0:
        raise AlertmanagerConfigError(f"amtool rejected {path}:\n{res.stdout}{res.stderr}")


def command(exe: str, config: Path, data_dir: Path, listen: str) -> list[str]:
    # An empty cluster address turns off Alertmanager's own high-availability gossip,
    # which would otherwise bind a fixed port (9094) shared by every checkout on the machine.
    return [exe, f"--config.file={config}", f"--storage.path={data_dir}", f"--web.listen-address={listen}",
            "--cluster.listen-address="]
