from __future__ import annotations

from component_helpers import make_profile

from components.environment import Environment, EnvironmentArgs
from components.monitoring.config import HPA_NAME


def env_for(build, profile, **kw):
    return build(lambda: Environment("loadline", EnvironmentArgs(profile=profile, **kw)))


def test_namespace_enforces_restricted_pods_and_denies_by_default(build):
    rec = env_for(build, make_profile("staging"))
    ns = rec.one("core/v1:Namespace").props["metadata"]
    assert ns["name"] == "loadline-staging"
    assert ns["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    policies = {r.props["metadata"]["name"]: r.props["spec"] for r in rec.of_type("NetworkPolicy")}
    assert policies["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    dns = policies["allow-dns"]["egress"][0]
    assert {p["port"] for p in dns["ports"]} == {53}


def test_monitoring_targets_and_alerts_name_the_real_objects(build):
    import yaml

    rec = env_for(build, make_profile("staging"))
    headless = rec.one("Service", "loadline-redis-headless").props["metadata"]["name"]
    cm = next(r for r in rec.of_type("core/v1:ConfigMap") if "prometheus.yml" in r.props.get("data", {}))
    cfg = yaml.safe_load(cm.props["data"]["prometheus.yml"])
    jobs = {j["job_name"]: j for j in cfg["scrape_configs"]}
    for target in jobs["redis"]["static_configs"][0]["targets"]:
        assert f".{headless}.loadline-staging.svc.cluster.local:9121" in target
    api_dns = jobs["loadline-api"]["dns_sd_configs"][0]["names"][0]
    assert api_dns.split(".")[0] in {r.props["metadata"]["name"] for r in rec.of_type("core/v1:Service")}
    assert rec.one("HorizontalPodAutoscaler").props["metadata"]["name"] == HPA_NAME
    ksm = jobs["kube-state-metrics"]["static_configs"][0]["targets"][0].split(".")[0]
    assert ksm in {r.props["metadata"]["name"] for r in rec.of_type("core/v1:Service")}


def test_grafana_off_means_no_grafana(build):
    rec = env_for(build, make_profile("local"))
    names = {r.props["metadata"]["name"] for r in rec.registered if r.type_token.startswith("kubernetes:")}
    assert not any("grafana" in n for n in names)
    cm = next(r for r in rec.of_type("core/v1:ConfigMap") if "prometheus.yml" in r.props.get("data", {}))
    assert "grafana" not in cm.props["data"]["prometheus.yml"]
