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


def _outputs(recorder, profile):
    """The Environment's declared outputs, resolved under the mocks."""
    import pulumi

    got = {}

    @pulumi.runtime.test
    def program():
        env = Environment("loadline", EnvironmentArgs(profile=profile))
        names = ("namespace", "api_url", "image", "redis_url", "database_secret_name",
                 "prometheus_url", "grafana_url")
        return pulumi.Output.all(*(getattr(env, n) for n in names)).apply(
            lambda values: got.update(zip(names, values, strict=True)))

    program()
    return got


def _service(recorder, suffix: str) -> str:
    return next(r.props["metadata"]["name"] for r in recorder.of_type("core/v1:Service")
                if r.props["metadata"]["name"].endswith(suffix))


def test_outputs_name_the_objects_the_environment_created(recorder):
    profile = make_profile("staging")
    out = _outputs(recorder, profile)
    ns = profile.namespace
    assert out["namespace"] == ns
    assert out["api_url"] == f"http://{_service(recorder, '-api')}.{ns}.svc.cluster.local"
    assert out["image"] == profile.image.ref
    secrets = {r.props["metadata"]["name"] for r in recorder.of_type("core/v1:Secret")}
    assert out["database_secret_name"] in secrets
    redis_urls = out["redis_url"].split(",")
    assert len(redis_urls) == profile.redis.nodes  # cluster mode: every node is a startup node
    headless = _service(recorder, "-redis-headless")
    assert all(u.startswith("redis://") and f".{headless}.{ns}.svc.cluster.local:" in u for u in redis_urls)
    assert out["prometheus_url"] == f"http://{_service(recorder, '-prometheus')}.{ns}.svc.cluster.local:9090"
    assert out["grafana_url"].startswith(f"http://{_service(recorder, '-grafana')}.{ns}.svc.cluster.local")


def test_a_review_stack_exports_the_api_url_the_env_commands_expect(recorder):
    # tests/envs/fake_pulumi.py answers `stack output` with this URL: it must be what the program exports.
    profile = make_profile("dev", {"namespace": "review-pr-1", "environment": "review"})
    out = _outputs(recorder, profile)
    assert out["api_url"] == "http://loadline-api.review-pr-1.svc.cluster.local"


def test_standalone_redis_exports_one_url(recorder):
    profile = make_profile("dev")
    out = _outputs(recorder, profile)
    assert out["redis_url"] == f"redis://{_service(recorder, '-redis')}.{profile.namespace}.svc.cluster.local:6379/0"
    if profile.monitoring.grafana:
        assert out["grafana_url"].startswith(f"http://{_service(recorder, '-grafana')}.{profile.namespace}.")
    else:
        assert out["grafana_url"] == ""
