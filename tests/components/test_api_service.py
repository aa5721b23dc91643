from __future__ import annotations

import pytest
from component_helpers import make_profile

from components.api_service import ApiService, ApiServiceArgs, db_pool_max
from loadline.render.values import is_secret

NS = "loadline-test"


def api_for(build, profile, **kw):
    args = ApiServiceArgs(profile=profile, namespace=profile.namespace, image="ghcr.io/loadline/events-api:0.1.0",
                          database_secret_name="loadline-postgres",
                          redis_url="redis://loadline-redis:6379/0", **kw)
    return build(lambda: ApiService("loadline-api", args))


def pod_spec(rec):
    return rec.one("apps/v1:Deployment").props["spec"]["template"]["spec"]


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_deployment_leaves_replicas_to_the_hpa(build, stack):
    profile = make_profile(stack)
    rec = api_for(build, profile)
    spec = rec.one("apps/v1:Deployment").props["spec"]
    assert "replicas" not in spec
    hpa = rec.one("HorizontalPodAutoscaler").props["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "loadline-api"}
    assert hpa["minReplicas"] == profile.api.hpa.min_replicas
    assert hpa["maxReplicas"] == profile.api.hpa.max_replicas
    cpu = hpa["metrics"][0]["resource"]["target"]
    assert cpu == {"type": "Utilization", "averageUtilization": profile.api.hpa.cpu_target_percent}
    down = hpa["behavior"]["scaleDown"]
    assert down["stabilizationWindowSeconds"] == profile.api.hpa.scale_down.stabilization_seconds
    assert down["policies"][0]["value"] == profile.api.hpa.scale_down.percent


def test_hpa_follows_a_changed_profile(build):
    profile = make_profile("prod", {"api": {"hpa": {"minReplicas": 4, "maxReplicas": 20,
                                                    "scaleUp": {"stabilizationSeconds": 30, "percent": 50}}}})
    hpa = api_for(build, profile).one("HorizontalPodAutoscaler").props["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (4, 20)
    assert hpa["behavior"]["scaleUp"]["stabilizationWindowSeconds"] == 30
    assert hpa["behavior"]["scaleUp"]["policies"][0]["value"] == 50


def test_probes_resources_and_hardening(build):
    profile = make_profile("prod")
    spec = pod_spec(api_for(build, profile))
    (container,) = spec["containers"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]
    assert container["resources"] == {"requests": {"cpu": "500m", "memory": "256Mi"},
                                      "limits": {"cpu": "1", "memory": "512Mi"}}
    sc = container["securityContext"]
    assert sc["runAsNonRoot"] is True and sc["runAsUser"] == 10001
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False and sc["privileged"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert not spec.get("hostNetwork") and not spec.get("hostPID") and not spec.get("hostIPC")
    keys = {c["topologyKey"] for c in spec["topologySpreadConstraints"]}
    assert keys == {"kubernetes.io/hostname", "topology.kubernetes.io/zone"}
    assert spec["affinity"]["podAntiAffinity"]


def _secret_files(spec, container):
    """file path -> (Secret, key) for every Secret file the container sees, through read-only mounts."""
    volumes = {v["name"]: v for v in spec["volumes"]}
    out = {}
    for mount in container["volumeMounts"]:
        vol = volumes[mount["name"]]
        sources = [s["secret"] for s in vol.get("projected", {}).get("sources", [])]
        if not sources:
            continue
        assert mount["readOnly"] is True and vol["projected"]["defaultMode"] == 0o440
        for src in sources:
            for item in src["items"]:
                out[f"{mount['mountPath']}/{item['path']}"] = (src["name"], item["key"])
    return out


def test_secrets_are_mounted_files_and_keys_are_generated(build):
    rec = api_for(build, make_profile("prod"))
    job = rec.one("batch/v1:Job").props["spec"]["template"]["spec"]
    for spec in (pod_spec(rec), job):
        container = spec["containers"][0]
        env = {e["name"]: e for e in container["env"]}
        assert not any("valueFrom" in e for e in env.values()), "no secret may reach the environment"
        files = _secret_files(spec, container)
        assert files[env["EVENTS_DATABASE_URL_FILE"]["value"]] == ("loadline-postgres", "url")
        assert files[env["EVENTS_API_KEYS_FILE"]["value"]] == ("loadline-api-keys", "EVENTS_API_KEYS")
        assert "EVENTS_DATABASE_URL" not in env and "EVENTS_API_KEYS" not in env
    env = {e["name"]: e for e in pod_spec(rec)["containers"][0]["env"]}
    assert env["EVENTS_ENVIRONMENT"]["value"] == "production"
    assert env["EVENTS_REDIS_MODE"]["value"] == "cluster"
    assert env["EVENTS_WORKERS"]["value"] == "2"
    secret = rec.one("core/v1:Secret")
    assert is_secret(secret.raw["stringData"]), "the generated API key must stay a Pulumi secret"
    assert rec.one("RandomPassword").props["length"] >= 32


def test_pool_size_fits_max_connections_at_hpa_maximum():
    for stack in ("dev", "staging", "prod"):
        p = make_profile(stack)
        pool = db_pool_max(p)
        assert pool * p.api.hpa.max_replicas * p.api.workers <= p.postgres.tuning.max_connections - 10
    assert db_pool_max(make_profile("prod", {"postgres": {"tuning": {"maxConnections": 490}}})) == 20


def test_migrations_job_is_an_ordinary_job_running_migrate(build):
    rec = api_for(build, make_profile("prod"))
    job = rec.one("batch/v1:Job").props
    annotations = job["metadata"].get("annotations", {})
    assert not any(k.startswith("helm.sh/") for k in annotations)
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["python", "-m", "app", "migrate"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "OnFailure"


@pytest.mark.parametrize("stack,budget", [("prod", {"minAvailable": 2}), ("staging", {"minAvailable": 1}),
                                          ("dev", {"maxUnavailable": 1})])
def test_pdb_stays_below_the_hpa_floor(build, stack, budget):
    pdb = api_for(build, make_profile(stack)).one("PodDisruptionBudget").props["spec"]
    assert {k: v for k, v in pdb.items() if k != "selector"} == budget
    assert pdb["selector"]["matchLabels"]["app.kubernetes.io/name"] == "loadline-api"


def test_network_policy_allows_only_what_the_api_needs(build):
    rec = api_for(build, make_profile("prod"))
    spec = rec.one("NetworkPolicy").props["spec"]
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    assert spec["ingress"] == [{"ports": [{"protocol": "TCP", "port": 8000}]}]
    targets = {(e["to"][0].get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/component"),
                e["ports"][0]["port"]) for e in spec["egress"]}
    assert targets == {("redis", 6379), ("postgres", 5432)}


def test_external_database_gets_egress_to_5432(build):
    profile = make_profile("prod")
    spec = api_for(build, profile, external_database=True).one("NetworkPolicy").props["spec"]
    assert {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"protocol": "TCP", "port": 5432}]} in spec["egress"]


def test_every_object_carries_the_common_labels(build):
    rec = api_for(build, make_profile("prod"), extra_labels={"loadline.dev/owner": "alice"})
    for r in rec.registered:
        if not r.type_token.startswith("kubernetes:"):
            continue
        labels = r.props["metadata"]["labels"]
        assert labels["app.kubernetes.io/part-of"] == "loadline", r.name
        assert labels["app.kubernetes.io/managed-by"] == "pulumi"
        assert labels["app.kubernetes.io/component"] == "api"
        assert labels["app.kubernetes.io/instance"] == "loadline-prod"
        assert labels["loadline.dev/owner"] == "alice"
