"""A local Prometheus running exactly the configuration and rules that render emits.

`prometheus_config` and `alert_rules` are the functions the Monitoring component
renders; only the targets differ (loopback host:port instead of in-cluster
discovery). The self-scrape job points at the port Prometheus really listens on.
Both files are checked with promtool before Prometheus starts.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from components.monitoring.config import alert_rules, prometheus_config
from loadline.profile import Profile


class PrometheusConfigError(Exception):
    pass


def write_config(profile: Profile, out: Path, *, api_target: str, listen: str,
                 redis_targets: list[str] | None = None,
                 postgres_targets: list[str] | None = None, alertmanager: str | None = None) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    rules_path = out / "rules.yml"
    rules_path.write_text(yaml.safe_dump(alert_rules(profile), sort_keys=False))
    config = prometheus_config(profile, api_targets=[api_target],
                               redis_targets=redis_targets or [],
                               postgres_targets=postgres_targets or [],
                               rule_files=[str(rules_path)])
    for job in config["scrape_configs"]:
        if job["job_name"] == "prometheus":
            job["static_configs"] = [{"targets": [listen]}]
    if alertmanager:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]}
    config_path = out / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    check(config_path)
    return config_path


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
