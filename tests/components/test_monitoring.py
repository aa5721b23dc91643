from __future__ import annotations

import json
import subprocess

import pytest
import yaml
from component_helpers import make_profile

from components.monitoring.config import alert_rules, prometheus_config
from components.monitoring.monitoring import Monitoring, MonitoringArgs
from loadline.render.rule_tests import rule_tests

REDIS = [f"loadline-redis-{i}.loadline-redis-headless.loadline-prod.svc.cluster.local:9121" for i in range(6)]
PG = ["loadline-postgres-0.loadline-postgres-headless.loadline-prod.svc.cluster.local:9187"]
API = "loadline-api-headless.loadline-prod.svc.cluster.local"


def monitoring_for(build, profile, api_host=API):
    return build(lambda: Monitoring("loadline-monitoring", MonitoringArgs(
        profile=profile, namespace=profile.namespace, api_host=api_host, redis_targets=REDIS,
        postgres_targets=PG)))


def rules_by_alert(rules):
    return {r["alert"]: r for g in rules["groups"] for r in g["rules"] if "alert" in r}


def test_alert_thresholds_follow_the_profile():
    rules = rules_by_alert(alert_rules(make_profile("prod")))
    assert rules["LoadlineApiLatencyP95High"]["expr"].endswith("> 0.1")
    assert rules["LoadlineApiLatencyP99High"]["expr"].endswith("> 0.25")
    assert rules["LoadlineApiErrorRatioHigh"]["expr"].endswith("> 0.001")
    assert rules["LoadlineApiThroughputBelowTarget"]["expr"].endswith("< 1000")
    assert "> 0.0144" in rules["LoadlineApiAvailabilityBudgetBurn1h"]["expr"]  # 14.4 x (1 - 0.999)
    changed = rules_by_alert(alert_rules(make_profile("prod", {"slo": {"p95Ms": 123, "p99Ms": None,
                                                                        "availability": 0.99}})))
    assert changed["LoadlineApiLatencyP95High"]["expr"].endswith("> 0.123")
    assert "LoadlineApiLatencyP99High" not in changed
    assert "> 0.144" in changed["LoadlineApiAvailabilityBudgetBurn1h"]["expr"]


def test_the_cache_hit_ratio_alert_follows_the_profile_and_exists_only_when_set():
    low = rules_by_alert(alert_rules(make_profile("prod", {"slo": {"cacheHitRatio": 0.85}})))["LoadlineCacheHitRatioLow"]
    assert "[30m])) < 0.85)" in low["expr"] and low["expr"].endswith(">= 1)")
    assert (low["for"], low["labels"]["severity"], low["labels"]["slo"]) == ("30m", "ticket", "cache_hit_ratio")
    unset = make_profile("prod", {"slo": {"cacheHitRatio": None}})
    assert "LoadlineCacheHitRatioLow" not in rules_by_alert(alert_rules(unset))


def test_every_slo_target_and_dependency_has_an_alert():
    rules = alert_rules(make_profile("staging"))
    slos = {r["labels"].get("slo") for g in rules["groups"] for r in g["rules"] if "alert" in r}
    assert {"p95_ms", "p99_ms", "max_error_ratio", "availability", "min_rps"} <= slos
    alerts = rules_by_alert(rules)
    assert 'redis_up{job="redis"} == 0' in alerts["LoadlineRedisDown"]["expr"]
    assert 'pg_up{job="postgres"} == 0' in alerts["LoadlinePostgresDown"]["expr"]
    assert "kube_horizontalpodautoscaler_spec_max_replicas" in alerts["LoadlineApiHpaAtMax"]["expr"]
    external = make_profile("prod", {"postgres": {"mode": "external", "storage": None, "tuning": None,
                                                  "backup": None, "resources": None, "externalUrlSecret": "dbUrl"}})
    assert "LoadlinePostgresDown" not in rules_by_alert(alert_rules(external))


def test_static_config_for_local_targets():
    cfg = prometheus_config(make_profile("local"), api_targets=["127.0.0.1:8000"], redis_targets=["127.0.0.1:9121"],
                            postgres_targets=[], rule_files=["rules.yml"])
    jobs = {j["job_name"]: j for j in cfg["scrape_configs"]}
    assert jobs["loadline-api"]["static_configs"] == [{"targets": ["127.0.0.1:8000"]}]
    assert "postgres" not in jobs
    assert cfg["global"]["scrape_interval"] == "5s" and cfg["rule_files"] == ["rules.yml"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_generated_rule_tests_pass_and_catch_a_shifted_threshold(tmp_path, stack):
    profile = make_profile(stack)
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(alert_rules(profile)))
    (tmp_path / "rules_test.yml").write_text(yaml.safe_dump(rule_tests(profile)))
    ok = subprocess.run(["promtool", "test", "rules", "rules_test.yml"], cwd=tmp_path, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    # Rules for a laxer profile must fail the tests generated for this one.
    lax = make_profile(stack, {"slo": {"p95Ms": profile.slo.p95_ms * 3, "p99Ms": None, "maxErrorRatio": 0.5}})
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(alert_rules(lax)))
    bad = subprocess.run(["promtool", "test", "rules", "rules_test.yml"], cwd=tmp_path, capture_output=True, text=True)
    assert bad.returncode != 0
    assert "LoadlineApiLatencyP95High" in bad.stdout + bad.stderr


def test_bundled_mode_scrapes_every_exporter_and_each_api_pod(build):
    rec = monitoring_for(build, make_profile("prod"))
    cm = next(r for r in rec.of_type("core/v1:ConfigMap") if "prometheus.yml" in r.props.get("data", {}))
    cfg = yaml.safe_load(cm.props["data"]["prometheus.yml"])
    jobs = {j["job_name"]: j for j in cfg["scrape_configs"]}
    assert jobs["loadline-api"]["dns_sd_configs"][0]["names"] == ["loadline-api-headless.loadline-prod.svc.cluster.local"]
    assert jobs["redis"]["static_configs"][0]["targets"] == REDIS
    assert jobs["postgres"]["static_configs"][0]["targets"] == PG
    assert jobs["kube-state-metrics"]["honor_labels"] is True
    assert cfg["rule_files"] == ["rules.yml"]
    assert yaml.safe_load(cm.props["data"]["rules.yml"]) == alert_rules(make_profile("prod"))
    images = {c["image"] for r in rec.of_type("apps/v1:Deployment")
              for c in r.props["spec"]["template"]["spec"]["containers"]}
    assert {i.split(":")[0] for i in images} == {"prom/prometheus", "grafana/grafana",
                                                 "registry.k8s.io/kube-state-metrics/kube-state-metrics"}
    assert all(":" in i and not i.endswith(":latest") for i in images)
    prom = next(r for r in rec.of_type("apps/v1:Deployment") if r.name.endswith("prometheus-deployment")).props
    assert "--storage.tsdb.retention.time=15d" in prom["spec"]["template"]["spec"]["containers"][0]["args"]


def test_the_api_job_follows_the_api_host_it_is_given(build):
    rec = monitoring_for(build, make_profile("prod"), api_host="events-headless.shop.svc.cluster.local")
    cm = next(r for r in rec.of_type("core/v1:ConfigMap") if "prometheus.yml" in r.props.get("data", {}))
    jobs = {j["job_name"]: j for j in yaml.safe_load(cm.props["data"]["prometheus.yml"])["scrape_configs"]}
    assert jobs["loadline-api"]["dns_sd_configs"][0]["names"] == ["events-headless.shop.svc.cluster.local"]


def test_grafana_datasource_and_dashboard(build):
    rec = monitoring_for(build, make_profile("prod"))
    maps = {r.name: r.props["data"] for r in rec.of_type("core/v1:ConfigMap")}
    ds = yaml.safe_load(maps["loadline-monitoring-grafana-datasources"]["datasources.yaml"])["datasources"][0]
    assert ds["url"] == "http://loadline-monitoring-prometheus.loadline-prod.svc.cluster.local:9090"
    board = json.loads(maps["loadline-monitoring-grafana-dashboards"]["loadline.json"])
    targets = [t for p in board["panels"] for t in p.get("targets", [])]
    exprs = " ".join(t["expr"] for t in targets)
    for metric in ("http_request_duration_seconds_count", "http_request_duration_seconds_bucket",
                   'cache_requests_total{job="loadline-api",result="hit"}', "db_pool_connections_in_use",
                   "db_pool_connections_max", "kube_horizontalpodautoscaler_status_current_replicas",
                   "degraded_requests_total", "redis_breaker_state", "loadline:slo_error_budget:remaining_ratio"):
        assert metric in exprs
    assert {f"p{q}" for q in (50, 95, 99)} <= {t["legendFormat"] for t in targets}
    assert all(t["datasource"]["uid"] == ds["uid"] for t in targets)
    assert board["uid"] == "loadline-prod" and board["editable"] is False
    panels = {p["title"]: p for p in board["panels"]}
    assert [p["title"] for p in board["panels"] if p["type"] == "row"] == [
        "Service level", "Traffic", "Cache and Redis", "Capacity and dependencies"]
    assert len({p["id"] for p in board["panels"]}) == len(board["panels"])
    breaker = panels["Redis circuit breaker"]["fieldConfig"]["defaults"]["mappings"][0]["options"]
    assert {k: v["text"] for k, v in breaker.items()} == {"0": "closed", "1": "half-open", "2": "open"}
    # The SLO lines: Grafana reads threshold steps in ascending order.
    latency = panels["Latency p50 / p95 / p99"]["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [s["value"] for s in latency] == [None, 0.1]
    burn = panels["Burn rate: availability (5xx)"]["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [s["value"] for s in burn] == [None, 1, 3, 6, 14.4]
    admin = rec.one("core/v1:Secret", "loadline-monitoring-grafana-admin")
    assert "4dabf18193072939515e22adb298388d" in admin.raw["stringData"]


def test_operator_mode_objects_carry_the_release_label(build):
    profile = make_profile("prod", {"monitoring": {"mode": "operator", "operatorRelease": "kube-prom"}})
    rec = monitoring_for(build, profile)
    kinds = rec.kinds()
    assert "Deployment" not in kinds
    custom = [r.props for r in rec.registered if r.type_token.startswith("kubernetes:monitoring.coreos.com/v1:")]
    by_kind: dict[str, list] = {}
    for obj in custom:
        by_kind.setdefault(obj["kind"], []).append(obj)
    assert len(by_kind["ServiceMonitor"]) == 3 and len(by_kind["PrometheusRule"]) == 1
    for obj in custom:
        assert obj["metadata"]["labels"]["release"] == "kube-prom", obj["metadata"]["name"]
    assert by_kind["PrometheusRule"][0]["spec"] == alert_rules(profile)
    jobs = {sm["spec"]["selector"]["matchLabels"]["loadline.dev/job"] for sm in by_kind["ServiceMonitor"]}
    assert jobs == {"loadline-api", "redis", "postgres"}
    assert all(sm["spec"]["jobLabel"] == "loadline.dev/job" for sm in by_kind["ServiceMonitor"])
