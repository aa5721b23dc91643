"""A local Prometheus running the configuration and rules that render emits.

`prometheus_config` and `alert_rules` are the functions the Monitoring component
renders; the targets differ (loopback host:port instead of in-cluster discovery),
the self-scrape job points at the port Prometheus really listens on, and the
dependency-down alerts run on a fault's time scale (`local_rules`). Both files are
checked with promtool before Prometheus starts.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from components.monitoring.config import POSTGRES_JOB, REDIS_JOB, alert_rules, prometheus_config
from loadline.profile import Profile

DEPENDENCY_GROUP = "loadline-dependencies"
# How often the local Prometheus scrapes the Redis and PostgreSQL exporters and evaluates the
# dependency-down rules. A gate run's faults last seconds (`redis-all-kill@60s:10s`); at the
# profile's interval (15 s) and `for:` (2 m) no alert could fire inside one.
LOCAL_DEPENDENCY_INTERVAL = "1s"
LOCAL_DEPENDENCY_JOBS = (REDIS_JOB, POSTGRES_JOB)


class PrometheusConfigError(Exception):
    pass


def write_config(profile: Profile, out: Path, *, api_target: str, listen: str,
                 redis_targets: list[str] | None = None,
                 postgres_targets: list[str] | None = None, alertmanager: str | None = None) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    rules_path = out / "rules.yml"
    rules_path.write_text(yaml.safe_dump(local_rules(profile), sort_keys=False))
    config = prometheus_config(profile, api_targets=[api_target],
                               redis_targets=redis_targets or [],
                               postgres_targets=postgres_targets or [],
                               rule_files=[str(rules_path)])
    for job in config["scrape_configs"]:
        if job["job_name"] == "prometheus":
            job["static_configs"] = [{"targets": [listen]}]
        if job["job_name"] in LOCAL_DEPENDENCY_JOBS:
            job["scrape_interval"] = LOCAL_DEPENDENCY_INTERVAL
    if alertmanager:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]}
    config_path = out / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    check(config_path)
    return config_path


def local_for(profile: Profile) -> str:
    """The local `for:` of the dependency-down alerts: the profile's `slo.faults.maxRecoverySeconds`.

    That is how long the gate lets any fault take to recover; a dependency down for longer is
    an outage worth paging for, and a 10 s Redis outage then fires its alert while it lasts.
    """
    ms = round(profile.slo.faults.max_recovery_seconds * 1000)
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


def local_rules(profile: Profile) -> dict:
    """`alert_rules(profile)` with the dependency-down alerts on the local time scale: their group
    evaluated every LOCAL_DEPENDENCY_INTERVAL and their `for:` shortened to `local_for(profile)`.
    Every other rule (latency, error ratio, burn rates) keeps the thresholds and windows it deploys with."""
    rules = alert_rules(profile)
    for group in rules["groups"]:
        if group["name"] != DEPENDENCY_GROUP:
            continue
        group["interval"] = LOCAL_DEPENDENCY_INTERVAL
        for rule in group["rules"]:
            if rule["labels"].get("dependency") in ("redis", "postgres"):
                rule["for"] = local_for(profile)
    return rules


def check(config_path: Path) -> None:
    """promtool validates the config and the rule files it names."""
    try:
        res = subprocess.run(["promtool", "check", "config", str(config_path)],
                             capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        raise PrometheusConfigError("promtool not found (make setup installs prometheus)") from None
    if res.returncode != 0:
        raise PrometheusConfigError(f"promtool rejected {config_path}:\n{res.stdout}{res.stderr}")


def command(config_path: Path, data_dir: Path, listen: str, retention: str) -> list[str]:
    return ["prometheus", f"--config.file={config_path}", f"--storage.tsdb.path={data_dir}",
            f"--web.listen-address={listen}", f"--storage.tsdb.retention.time={retention}"]
