"""Every shipped stack through the real program under mocks, validated strictly."""

from __future__ import annotations

import pytest

from loadline.render import MASK
from loadline.render.validate import validate
from tests.fixtures.renders import rendered as session_render

SHIPPED = ["dev", "staging", "prod", "local"]
LONG_RUNNING = {"Deployment", "StatefulSet"}
COMMON = ("app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/component",
          "app.kubernetes.io/part-of", "app.kubernetes.io/managed-by")


@pytest.fixture(scope="module", params=SHIPPED)
def rendered(request):
    return session_render(request.param)


def pod_specs(manifest):
    spec = manifest.get("spec", {})
    if manifest["kind"] == "CronJob":
        return [spec["jobTemplate"]["spec"]["template"]["spec"]]
    if "template" in spec:
        return [spec["template"]["spec"]]
    return []


def test_stack_is_strictly_valid_and_passes_promtool(rendered):
    problems = validate(rendered)
    assert problems == [], "\n".join(map(str, problems))
    assert rendered.prometheus_config is not None and rendered.alert_rules is not None
    assert len(rendered.rule_tests["tests"]) >= 12
    burn = rendered.burn_rate_tests
    assert sorted(burn) == [f"burn_rate_{w}_test.yml" for w in ("1d", "1h", "3d", "6h")]
    assert all(len(f["tests"]) == 4 for f in burn.values())


def test_alertmanager_config_routes_pages_and_passes_amtool(rendered):
    from loadline.render.validate import validate_alertmanager

    config = rendered.files()["prometheus/alertmanager.yml"]
    assert config["route"]["group_by"] == ["alertname", "namespace"]
    assert config["route"]["routes"] == [{"receiver": "page", "matchers": ['severity="page"']}]
    assert {r["name"] for r in config["receivers"]} == {"default", "page"}
    assert validate_alertmanager(rendered) == []
    # amtool really runs: a route to a receiver that does not exist is refused.
    rendered.alertmanager_config["route"]["receiver"] = "nowhere"
    try:
        problems = validate_alertmanager(rendered)
    finally:
        rendered.alertmanager_config["route"]["receiver"] = "default"
    assert [p.where for p in problems] == ["prometheus/alertmanager.yml"]
    assert "amtool check-config failed" in problems[0].message


def test_objects_carry_labels_pinned_images_and_hardening(rendered):
    for m in rendered.manifests:
        labels = m["metadata"]["labels"]
        for key in COMMON:
            assert labels.get(key), f"{m['kind']}/{m['metadata']['name']} lacks {key}"
        if m["kind"] != "Namespace":
            assert m["metadata"]["namespace"] == rendered.profile.namespace
        for pod in pod_specs(m):
            assert pod["securityContext"]["runAsNonRoot"] is True
            assert not any(pod.get(k) for k in ("hostNetwork", "hostPID", "hostIPC"))
            for c in pod["containers"]:
                where = f"{m['kind']}/{m['metadata']['name']}/{c['name']}"
                name, _, tag = c["image"].rpartition(":")
                assert name and tag and tag != "latest" and "/" not in tag, where
                assert c["resources"]["requests"] and c["resources"]["limits"], where
                sc = c["securityContext"]
                assert sc["readOnlyRootFilesystem"] and not sc["allowPrivilegeEscalation"], where
                assert sc["capabilities"]["drop"] == ["ALL"], where
                if m["kind"] in LONG_RUNNING:
                    assert c.get("livenessProbe") and c.get("readinessProbe"), where
                for env in c.get("env", []):
                    assert "secretKeyRef" not in env.get("valueFrom", {}), f"{where} {env['name']} is a secret in env"
                    if any(w in env["name"] for w in ("PASSWORD", "PASS", "API_KEYS", "DATABASE_URL")):
                        assert env["name"].endswith("_FILE") and env["value"].startswith("/run/secrets/"), \
                            f"{where} {env['name']} is not a file reference"
                assert not c.get("envFrom"), where


def test_every_pod_runs_with_high_ids_and_no_idle_token(rendered):
    for m in rendered.manifests:
        for pod in pod_specs(m):
            where = f"{m['kind']}/{m['metadata']['name']}"
            ctx = pod["securityContext"]
            assert min(ctx["runAsUser"], ctx["runAsGroup"], ctx["fsGroup"]) >= 10000, where
            for c in pod["containers"]:
                sc = c["securityContext"]
                assert min(sc.get("runAsUser", ctx["runAsUser"]), sc.get("runAsGroup", ctx["runAsGroup"])) >= 10000
            if pod.get("automountServiceAccountToken") is not False:
                reason = m["metadata"].get("annotations", {}).get("policy.loadline.dev/exempt.service-account-token")
                assert reason and pod["serviceAccountName"] not in ("", "default"), where


def test_hpa_target_has_no_replicas_and_pdb_is_below_the_floor(rendered):
    by_kind = {}
    for m in rendered.manifests:
        by_kind.setdefault(m["kind"], {})[m["metadata"]["name"]] = m
    (hpa,) = by_kind["HorizontalPodAutoscaler"].values()
    target = by_kind["Deployment"][hpa["spec"]["scaleTargetRef"]["name"]]
    assert "replicas" not in target["spec"]
    pdb = by_kind["PodDisruptionBudget"]["loadline-api"]["spec"]
    if "minAvailable" in pdb:
        assert pdb["minAvailable"] < hpa["spec"]["minReplicas"]
    for name, dep in by_kind["Deployment"].items():
        if name != target["metadata"]["name"]:
            assert dep["spec"]["replicas"] == 1


def test_network_policies_default_deny_first(rendered):
    policies = [m for m in rendered.manifests if m["kind"] == "NetworkPolicy"]
    deny = next(p for p in policies if p["metadata"]["name"] == "default-deny")
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    components = {p["spec"]["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/component")
                  for p in policies}
    assert {"api", "redis", "postgres"} <= components


def test_migrations_run_before_the_rollout(rendered):
    deployment = next(r for r in rendered.resources if r.name == "loadline-api-deployment")
    assert "loadline-api-migrate" in deployment.dependencies
    job = next(r for r in rendered.resources if r.name == "loadline-api-migrate")
    # depends_on a component means on all of its children: the database and Redis pods.
    assert {"loadline-postgres-statefulset", "loadline-postgres-secret", "loadline-redis-statefulset"} <= set(job.dependencies)
    assert job.options["deleteBeforeReplace"] is True


def test_slow_rollouts_have_custom_timeouts(rendered):
    for r in rendered.resources:
        if r.type_token.endswith(":StatefulSet"):
            assert r.options["customTimeouts"]["create"].endswith("m"), r.name


def test_generated_secrets_are_masked_everywhere(rendered, tmp_path):
    secrets = [m for m in rendered.manifests if m["kind"] == "Secret"]
    assert secrets and all(set(s["stringData"].values()) == {MASK} for s in secrets)
    rendered.write(tmp_path)
    for path in tmp_path.rglob("*.y*ml"):
        assert "generated-by-mock" not in path.read_text(), path


def test_prod_spreads_and_floors():
    rendered = session_render("prod")
    hpa = next(m for m in rendered.manifests if m["kind"] == "HorizontalPodAutoscaler")
    assert hpa["spec"]["minReplicas"] >= 2
    for m in rendered.manifests:
        if m["kind"] in LONG_RUNNING and m["metadata"]["labels"]["app.kubernetes.io/component"] in ("api", "redis"):
            spec = m["spec"]["template"]["spec"]
            assert spec["topologySpreadConstraints"] and spec["affinity"]["podAntiAffinity"]
