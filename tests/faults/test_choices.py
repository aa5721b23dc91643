"""What a fault acts on: decided from listings, the same way for processes and for pods."""

import pytest

from loadline.faults.kubernetes import Action, Pod, Workload, plan
from loadline.faults.local import InjectionError, choose_primary, choose_worker
from loadline.faults.spec import parse_fault

SPAWN = ["/usr/bin/python", "-c", "from multiprocessing.spawn import spawn_main; spawn_main(tracker_fd=5)",
         "--multiprocessing-fork"]
TRACKER = ["/usr/bin/python", "-c", "from multiprocessing.resource_tracker import main;main(4)"]


def test_primary_is_a_master_never_a_replica():
    assert choose_primary({7001: "slave", 7002: "master", 7003: "master", 7000: "unreachable"}) == 7002
    with pytest.raises(InjectionError, match="no Redis node answers as a master"):
        choose_primary({7001: "slave", 7002: "unreachable"})


def test_worker_is_never_the_resource_tracker():
    assert choose_worker([(30, TRACKER), (42, SPAWN), (41, SPAWN)]) == 41
    with pytest.raises(InjectionError, match="no worker processes"):
        choose_worker([(30, TRACKER)])


PODS = [Pod("loadline-redis-0", "loadline-redis"), Pod("loadline-redis-1", "loadline-redis"),
        Pod("loadline-redis-2", "loadline-redis", ready=False), Pod("loadline-api-7f-b", "loadline-api"),
        Pod("loadline-api-7f-a", "loadline-api"), Pod("loadline-postgres-0", "loadline-postgres")]
WORKLOADS = [Workload("StatefulSet", "loadline-redis", "loadline-redis", 6),
             Workload("StatefulSet", "loadline-postgres", "loadline-postgres", 1),
             Workload("Deployment", "loadline-api", "loadline-api", 2)]


def test_cluster_primary_kill_deletes_the_pod_that_is_master():
    roles = {"loadline-redis-0": "slave", "loadline-redis-1": "master"}
    action = plan(parse_fault("redis-primary-kill@5s"), prefix="loadline", pods=PODS, workloads=WORKLOADS,
                  redis_roles=roles)
    assert action == Action("delete-pod", "loadline-redis-1")
    with pytest.raises(InjectionError, match="no Redis node answers as a master"):
        plan(parse_fault("redis-primary-kill@5s"), prefix="loadline", pods=PODS, workloads=WORKLOADS,
             redis_roles={"loadline-redis-0": "slave"})


@pytest.mark.parametrize("spec, expected", [
    ("redis-all-kill@5s", Action("scale", "loadline-redis", kind="StatefulSet", replicas=6)),
    ("postgres-restart@5s:5s", Action("scale", "loadline-postgres", kind="StatefulSet", replicas=1)),
    ("api-worker-kill@5s", Action("delete-pod", "loadline-api-7f-a")),
])
def test_cluster_plan(spec, expected):
    assert plan(parse_fault(spec), prefix="loadline", pods=PODS, workloads=WORKLOADS) == expected


def test_cluster_refusals_name_what_is_missing():
    with pytest.raises(InjectionError, match="cannot be injected on a cluster"):
        plan(parse_fault("redis-stall@5s"), prefix="loadline", pods=PODS, workloads=WORKLOADS)
    with pytest.raises(InjectionError, match="at least 2 ready API pods, found 1"):
        plan(parse_fault("api-worker-kill@5s"), prefix="loadline", pods=PODS[:4], workloads=WORKLOADS)
    with pytest.raises(InjectionError, match="expected one StatefulSet labelled app.kubernetes.io/name=loadline-postgres"):
        plan(parse_fault("postgres-restart@5s"), prefix="loadline", pods=PODS, workloads=WORKLOADS[:1])
    with pytest.raises(InjectionError, match="no replicas"):
        plan(parse_fault("redis-all-kill@5s"), prefix="loadline", pods=PODS,
             workloads=[Workload("StatefulSet", "loadline-redis", "loadline-redis", 0)])
    assert Action("scale", "x", "StatefulSet", 3).describe() == "statefulset/x (scaled 0, back to 3)"
