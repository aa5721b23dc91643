from __future__ import annotations

from component_helpers import make_profile

from components import images
from components.environment import Environment, EnvironmentArgs
from components.locust_runner import PORT, ROLE_LABEL, SUITE, LocustRunner, LocustRunnerArgs

REVIEW = {"namespace": "review-pr-1", "environment": "review"}
TARGET = "http://loadline-api.review-pr-1.svc.cluster.local:80"


def runner_for(build, profile):
    return build(lambda: LocustRunner("loadline-loadtest", LocustRunnerArgs(
        profile=profile, namespace=profile.namespace, target=TARGET, api_keys_secret_name="loadline-api-keys")))


def jobs(rec):
    return {r.props["metadata"]["labels"][ROLE_LABEL]: r.props for r in rec.of_type("batch/v1:Job")}


def container(job):
    return job["spec"]["template"]["spec"]["containers"][0]


def arg(c, flag):
    return c["args"][c["args"].index(flag) + 1]


def test_master_loads_the_api_by_its_cluster_dns_name_and_workers_find_the_master(build):
    rec = runner_for(build, make_profile("dev", REVIEW))
    by_role = jobs(rec)
    master, worker = container(by_role["master"]), container(by_role["worker"])
    assert arg(master, "--host") == TARGET
    assert "--master" in master["args"] and "--headless" in master["args"]
    svc = rec.one("core/v1:Service").props
    assert svc["spec"]["ports"] == [{"name": "master", "port": PORT, "targetPort": "master", "protocol": "TCP"}]
    assert master["ports"][0]["name"] == "master"
    assert arg(worker, "--master-host") == f"{svc['metadata']['name']}.review-pr-1.svc.cluster.local"
    assert arg(worker, "--master-port") == str(PORT)
    assert "--worker" in worker["args"]
    # The Service selects the master's pods and not the workers'.
    sel = svc["spec"]["selector"]
    master_labels = by_role["master"]["spec"]["template"]["metadata"]["labels"]
    worker_labels = by_role["worker"]["spec"]["template"]["metadata"]["labels"]
    assert all(master_labels.get(k) == v for k, v in sel.items())
    assert not all(worker_labels.get(k) == v for k, v in sel.items())
    # The statistics leave the master through its log.
    assert {"name": "LOADLINE_STATS_STDOUT", "value": "1"} in master["env"]


def test_worker_count_and_size_follow_the_profile(build):
    profile = make_profile("dev", {**REVIEW, "load": {"runner": {"workers": 5, "cpu": "750m", "memory": "1Gi"}}})
    by_role = jobs(runner_for(build, profile))
    worker = by_role["worker"]["spec"]
    assert worker["parallelism"] == worker["completions"] == 5
    assert arg(container(by_role["master"]), "--expect-workers") == "5"
    assert container(by_role["worker"])["resources"] == {"requests": {"cpu": "750m", "memory": "1Gi"},
                                                         "limits": {"cpu": "750m", "memory": "1Gi"}}
    assert by_role["master"]["spec"]["parallelism"] == 1


def test_jobs_are_suspended_templates_pulumi_does_not_await(build):
    for job in jobs(runner_for(build, make_profile("dev", REVIEW))).values():
        assert job["spec"]["suspend"] is True
        assert job["spec"]["backoffLimit"] == 0
        assert job["spec"]["activeDeadlineSeconds"] == 60 + 300  # dev's load.duration + grace
        assert job["metadata"]["annotations"]["pulumi.com/skipAwait"] == "true"


def test_every_pod_is_hardened_and_reads_the_api_key_from_a_file(build):
    rec = runner_for(build, make_profile("dev", REVIEW))
    for job in jobs(rec).values():
        pod = job["spec"]["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False
        assert pod["securityContext"]["runAsUser"] >= 10000 and pod["securityContext"]["fsGroup"] >= 10000
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        c = pod["containers"][0]
        assert c["image"] == images.LOCUST
        sc = c["securityContext"]
        assert sc["readOnlyRootFilesystem"] and not sc["allowPrivilegeEscalation"]
        assert sc["capabilities"] == {"drop": ["ALL"]}
        assert set(c["resources"]) == {"requests", "limits"}
        assert all("valueFrom" not in e for e in c["env"])
        assert {"name": "LOADLINE_API_KEY_FILE", "value": "/run/secrets/loadline/api-key"} in c["env"]
        secret = next(v for v in pod["volumes"] if "secret" in v)["secret"]
        assert secret["secretName"] == "loadline-api-keys" and secret["defaultMode"] == 0o440


def test_no_role_is_granted_and_the_account_has_no_token(build):
    rec = runner_for(build, make_profile("dev", REVIEW))
    assert rec.of_type("Role") == [] and rec.of_type("RoleBinding") == []
    account = rec.one("ServiceAccount").props
    assert account["automountServiceAccountToken"] is False
    for job in jobs(rec).values():
        assert job["spec"]["template"]["spec"]["serviceAccountName"] == account["metadata"]["name"]


def test_network_policy_lets_workers_reach_only_the_api_and_the_master(build):
    rec = runner_for(build, make_profile("dev", REVIEW))
    spec = rec.one("NetworkPolicy").props["spec"]
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    assert spec["ingress"][0]["ports"] == [{"protocol": "TCP", "port": PORT}]
    api, master = spec["egress"]
    assert api["to"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "api"
    assert api["ports"] == [{"protocol": "TCP", "port": 8000}]
    assert master["to"][0]["podSelector"]["matchLabels"][ROLE_LABEL] == "master"
    assert master["ports"] == [{"protocol": "TCP", "port": PORT}]


def test_the_suite_ships_as_a_config_map_the_pods_import_it_from(build):
    rec = runner_for(build, make_profile("dev", REVIEW))
    cm = rec.one("core/v1:ConfigMap").props
    assert cm["data"] == {p.name: p.read_text() for p in SUITE.glob("*.py")}
    assert "locustfile.py" in cm["data"]
    for job in jobs(rec).values():
        pod = job["spec"]["template"]["spec"]
        c = pod["containers"][0]
        assert c["args"][:2] == ["-f", "/opt/loadline/loadtests/locustfile.py"]
        assert {"name": "PYTHONPATH", "value": "/opt/loadline"} in c["env"]
        assert {"name": "suite", "configMap": {"name": cm["metadata"]["name"]}} in pod["volumes"]


def test_review_stacks_have_a_runner_and_others_only_when_asked(build):
    def loadtest_jobs(profile):
        rec = build(lambda: Environment("loadline", EnvironmentArgs(profile=profile)))
        return [r for r in rec.of_type("batch/v1:Job") if "loadtest" in r.name]

    assert len(loadtest_jobs(make_profile("dev", REVIEW))) == 2
    assert loadtest_jobs(make_profile("dev")) == []
    assert len(loadtest_jobs(make_profile("dev", {"load": {"runner": {"inCluster": True}}}))) == 2
    assert loadtest_jobs(make_profile("dev", {**REVIEW, "load": {"runner": {"inCluster": False}}})) == []


def test_in_an_environment_the_runner_targets_the_api_service_with_its_port(build):
    rec = build(lambda: Environment("loadline", EnvironmentArgs(profile=make_profile("dev", REVIEW))))
    master = next(r.props for r in rec.of_type("batch/v1:Job") if r.name.endswith("master-job"))
    api_svc = rec.one("core/v1:Service", "loadline-api-svc").props
    port = api_svc["spec"]["ports"][0]["port"]
    assert arg(container(master), "--host") == f"http://{api_svc['metadata']['name']}.review-pr-1.svc.cluster.local:{port}"
