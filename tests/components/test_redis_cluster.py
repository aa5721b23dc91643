from __future__ import annotations

from component_helpers import make_profile

from components.redis_cluster import INIT_SCRIPT, RedisCluster, RedisClusterArgs


def redis_for(build, profile):
    return build(lambda: RedisCluster("loadline-redis", RedisClusterArgs(profile=profile, namespace=profile.namespace)))


def container(sts, name):
    return next(c for c in sts["spec"]["template"]["spec"]["containers"] if c["name"] == name)


def test_cluster_nodes_announce_stable_hostnames(build):
    profile = make_profile("prod")
    rec = redis_for(build, profile)
    sts = rec.one("StatefulSet").props
    assert sts["spec"]["replicas"] == 6  # 3 shards x (1 master + 1 replica)
    assert sts["spec"]["serviceName"] == "loadline-redis-headless"
    args = container(sts, "redis")["args"]
    i = args.index("--cluster-announce-hostname")
    assert args[i + 1] == "$(POD_NAME).loadline-redis-headless.loadline-prod.svc.cluster.local"
    conf = rec.one("ConfigMap").props["data"]["redis.conf"].splitlines()
    assert "cluster-enabled yes" in conf
    assert "cluster-preferred-endpoint-type hostname" in conf
    assert "cluster-config-file /data/nodes.conf" in conf
    # A cache: the other shards keep answering while one has no master (tests/app/test_cache_cluster_coverage.py).
    assert "cluster-require-full-coverage no" in conf
    headless = rec.one("Service", "loadline-redis-headless").props["spec"]
    assert headless["clusterIP"] == "None" and headless["publishNotReadyAddresses"] is True
    assert {p["port"] for p in headless["ports"]} == {6379, 16379, 9121}


def test_cluster_init_is_an_ordinary_job_over_every_node(build):
    profile = make_profile("prod")
    rec = redis_for(build, profile)
    job = rec.one("batch/v1:Job").props
    assert not any(k.startswith("helm.sh/") for k in job["metadata"].get("annotations", {}))
    (c,) = job["spec"]["template"]["spec"]["containers"]
    assert c["command"] == ["sh", "-c", INIT_SCRIPT.read_text()]
    env = {e["name"]: e["value"] for e in c["env"]}
    nodes = env["REDIS_NODES"].split()
    assert nodes[0] == "loadline-redis-0.loadline-redis-headless.loadline-prod.svc.cluster.local:6379"
    assert len(nodes) == 6 and (env["SHARDS"], env["REPLICAS"]) == ("3", "1")


def test_scale_out_changes_the_job_so_it_runs_again(build):
    before = redis_for(build, make_profile("prod")).one("batch/v1:Job").props
    after = redis_for(build, make_profile("prod", {"redis": {"shards": 5}})).one("batch/v1:Job").props
    env = {e["name"]: e["value"] for e in after["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert len(env["REDIS_NODES"].split()) == 10 and env["SHARDS"] == "5"
    assert before["spec"]["template"] != after["spec"]["template"]


def test_exporter_pdb_persistence_and_spread(build):
    profile = make_profile("prod")
    rec = redis_for(build, profile)
    sts = rec.one("StatefulSet").props
    exporter = container(sts, "exporter")
    assert exporter["image"].startswith("oliver006/redis_exporter:v")
    assert exporter["ports"][0]["containerPort"] == 9121
    assert exporter["securityContext"]["readOnlyRootFilesystem"] is True
    for c in sts["spec"]["template"]["spec"]["containers"]:
        assert c["livenessProbe"] and c["readinessProbe"] and c["resources"]["limits"]
    (claim,) = sts["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "5Gi"
    assert claim["spec"]["storageClassName"] == "standard"
    assert "appendonly yes" in rec.one("ConfigMap").props["data"]["redis.conf"]
    assert rec.one("PodDisruptionBudget").props["spec"]["maxUnavailable"] == 1
    spread = sts["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert spread[0]["whenUnsatisfiable"] == "DoNotSchedule"
    assert sts["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]


def test_standalone_mode_for_dev(build):
    profile = make_profile("dev")
    rec = redis_for(build, profile)
    sts = rec.one("StatefulSet").props
    assert sts["spec"]["replicas"] == 1
    assert "volumeClaimTemplates" not in sts["spec"]
    assert "--cluster-announce-hostname" not in container(sts, "redis")["args"]
    conf = rec.one("ConfigMap").props["data"]["redis.conf"]
    assert "cluster-enabled" not in conf and 'save ""' in conf
    assert rec.of_type("batch/v1:Job") == [] and rec.of_type("PodDisruptionBudget") == []
    assert container(sts, "exporter")


def test_network_policy_limits_clients_to_api_peers_and_monitoring(build):
    spec = redis_for(build, make_profile("prod")).one("NetworkPolicy").props["spec"]
    sources = {rule["from"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/component"]: rule["ports"]
               for rule in spec["ingress"]}
    assert sources["api"] == [{"protocol": "TCP", "port": 6379}]
    assert {"protocol": "TCP", "port": 16379} in sources["redis"]
    assert sources["monitoring"] == [{"protocol": "TCP", "port": 9121}]
