"""Pod hardening and sizing policies: one passing and at least one failing case each."""

import pytest
from policy_builders import container, deployment

from policies.guardrails import Context
from policies.guardrails.workloads import (
    no_host_namespaces,
    no_privilege,
    non_root_read_only,
    probes,
    requests_and_limits,
    service_account_token,
)

CTX = Context(environment="prod")


def _with(**container_fields):
    return deployment(containers=[container(**container_fields)])


def test_requests_and_limits_pass_and_fail():
    assert requests_and_limits(deployment(), CTX) == []
    msgs = requests_and_limits(_with(resources={"requests": {"cpu": "100m"}}), CTX)
    assert msgs == ["container web has no resources.requests.memory, resources.limits.cpu, resources.limits.memory"]


def test_requests_and_limits_cover_init_containers_and_cronjobs():
    d = deployment()
    d["spec"]["template"]["spec"]["initContainers"] = [{"name": "init", "image": "busybox:1.36"}]
    assert any("initContainer init" in m for m in requests_and_limits(d, CTX))
    cron = {"kind": "CronJob", "metadata": {"name": "backup"},
            "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "b"}]}}}}}}
    assert requests_and_limits(cron, CTX) and "container b" in requests_and_limits(cron, CTX)[0]


def test_probes_required_on_long_running_only():
    assert probes(deployment(), CTX) == []
    no_liveness = container()
    del no_liveness["livenessProbe"]
    assert probes(deployment(containers=[no_liveness]), CTX) == ["container web has no livenessProbe"]
    job = {"kind": "Job", "metadata": {"name": "migrate"},
           "spec": {"template": {"spec": {"containers": [{"name": "m"}]}}}}
    assert probes(job, CTX) == []


def test_non_root_read_only():
    assert non_root_read_only(deployment(), CTX) == []
    sc = dict(container()["securityContext"], runAsNonRoot=False, readOnlyRootFilesystem=False)
    msgs = non_root_read_only(_with(securityContext=sc), CTX)
    assert any("runAsNonRoot" in m for m in msgs) and any("readOnlyRootFilesystem" in m for m in msgs)


def test_non_root_inherits_from_pod_and_refuses_uid_zero():
    sc = dict(container()["securityContext"])
    del sc["runAsNonRoot"]
    assert non_root_read_only(_with(securityContext=sc), CTX) == []  # the pod's runAsNonRoot applies
    sc["runAsUser"] = 0
    assert non_root_read_only(_with(securityContext=sc), CTX) == ["container web runs as uid 0 (runAsUser: 0)"]


@pytest.mark.parametrize("change, expected", [
    ({"privileged": True}, "is privileged"),
    ({"allowPrivilegeEscalation": True}, "allowPrivilegeEscalation: false"),
    ({"capabilities": {"drop": ["NET_RAW"]}}, "does not drop ALL"),
    ({"capabilities": {"drop": ["ALL"], "add": ["SYS_ADMIN"]}}, "adds capabilities SYS_ADMIN"),
])
def test_no_privilege_failures(change, expected):
    sc = dict(container()["securityContext"], **change)
    msgs = no_privilege(_with(securityContext=sc), CTX)
    assert len(msgs) == 1 and expected in msgs[0]


def test_no_privilege_pass_and_low_port_capability():
    assert no_privilege(deployment(), CTX) == []
    sc = dict(container()["securityContext"], capabilities={"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]})
    assert no_privilege(_with(securityContext=sc), CTX) == []


def test_no_host_namespaces():
    assert no_host_namespaces(deployment(), CTX) == []
    d = deployment()
    d["spec"]["template"]["spec"].update(hostNetwork=True, hostPID=True, hostIPC=False)
    assert no_host_namespaces(d, CTX) == ["pod spec sets hostNetwork: true", "pod spec sets hostPID: true"]


def test_malformed_objects_do_not_crash():
    broken = {"kind": "Deployment", "metadata": {"name": "x"}, "spec": {"template": {"spec": {"containers": "nope"}}}}
    for check in (requests_and_limits, probes, non_root_read_only, no_privilege, no_host_namespaces):
        assert check(broken, CTX) == []


def test_init_containers_need_no_probes_but_do_need_resources():
    init = {"name": "migrate", "image": "ghcr.io/acme/web:1.2.3", "resources": {}}
    web = deployment()
    web["spec"]["template"]["spec"]["initContainers"] = [init]
    assert probes(web, CTX) == []
    assert requests_and_limits(web, CTX) == [
        "initContainer migrate has no resources.requests.cpu, resources.requests.memory, resources.limits.cpu, "
        "resources.limits.memory"]


def test_an_empty_quantity_is_no_quantity():
    web = _with(resources={"requests": {"cpu": "", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}})
    assert requests_and_limits(web, CTX) == ["container web has no resources.requests.cpu"]


def test_every_host_namespace_is_named():
    d = deployment()
    d["spec"]["template"]["spec"].update(hostNetwork=True, hostPID=True, hostIPC=True)
    assert no_host_namespaces(d, CTX) == ["pod spec sets hostNetwork: true", "pod spec sets hostPID: true",
                                          "pod spec sets hostIPC: true"]


def test_added_capabilities_are_listed_in_order():
    sc = {**container()["securityContext"], "capabilities": {"drop": ["ALL"], "add": ["sys_admin", "NET_RAW"]}}
    assert no_privilege(_with(securityContext=sc), CTX) == ["container web adds capabilities NET_RAW, SYS_ADMIN"]


def test_a_container_runs_as_the_pods_uid_when_it_sets_none():
    d = deployment()
    d["spec"]["template"]["spec"]["securityContext"]["runAsUser"] = 0
    del d["spec"]["template"]["spec"]["containers"][0]["securityContext"]["runAsUser"]
    assert non_root_read_only(d, CTX) == ["container web runs as uid 0 (runAsUser: 0)"]


def test_an_empty_service_account_name_is_the_default_one():
    d = deployment()
    pod = d["spec"]["template"]["spec"]
    del pod["automountServiceAccountToken"]
    pod.update(serviceAccountName="", serviceAccount="")
    assert service_account_token(d, CTX) == [
        "pod mounts the token of the namespace's default ServiceAccount (automountServiceAccountToken is not false)"]


@pytest.mark.parametrize("liveness", ["httpGet /healthz", {}, None])
def test_a_probe_must_be_a_non_empty_mapping(liveness):
    web = _with(livenessProbe=liveness, readinessProbe=None)
    assert probes(web, CTX) == ["container web has no livenessProbe and no readinessProbe"]
