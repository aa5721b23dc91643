"""PDBs, spread, HPA floors and replica ownership, over small stacks."""

from policy_builders import deployment, hpa, pdb

from policies.guardrails import Context
from policies.guardrails.availability import (
    hpa_owns_replicas,
    pdb_allows_eviction,
    pdb_for_replicated,
    prod_hpa_min_replicas,
    prod_spread,
)

PROD = Context(environment="prod")
DEV = Context(environment="dev")


def _names(pairs):
    return [(o["kind"] if o else None, m) for o, m in pairs]


def test_pdb_for_replicated():
    assert pdb_for_replicated([deployment(replicas=3), pdb()], PROD) == []
    assert pdb_for_replicated([deployment(replicas=1)], PROD) == []
    found = pdb_for_replicated([deployment(replicas=3)], PROD)
    assert _names(found) == [("Deployment", "runs up to 3 replicas but no PodDisruptionBudget selects its pods")]


def test_pdb_for_replicated_counts_the_hpa_ceiling():
    found = pdb_for_replicated([deployment(), hpa(min_replicas=1, max_replicas=4)], PROD)
    assert len(found) == 1 and "up to 4 replicas" in found[0][1]


def test_pdb_in_other_namespace_does_not_count():
    other = pdb()
    other["metadata"]["namespace"] = "elsewhere"
    assert len(pdb_for_replicated([deployment(replicas=2), other], PROD)) == 1


def test_prod_spread_only_in_prod_and_only_when_replicated():
    bare = deployment(replicas=3, spread=False)
    assert len(prod_spread([bare], PROD)) == 1
    assert prod_spread([bare], DEV) == []
    assert prod_spread([deployment(replicas=3)], PROD) == []
    assert prod_spread([deployment(replicas=1, spread=False)], PROD) == []
    anti = deployment(replicas=3, spread=False)
    anti["spec"]["template"]["spec"]["affinity"] = {"podAntiAffinity": {
        "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100, "podAffinityTerm": {}}]}}
    assert prod_spread([anti], PROD) == []


def test_prod_hpa_min_replicas():
    assert prod_hpa_min_replicas(hpa(min_replicas=2), PROD) == []
    assert prod_hpa_min_replicas(hpa(min_replicas=1), DEV) == []
    msgs = prod_hpa_min_replicas(hpa(min_replicas=1), PROD)
    assert msgs and "minReplicas is 1 in prod" in msgs[0]
    unset = hpa()
    del unset["spec"]["minReplicas"]
    assert prod_hpa_min_replicas(unset, PROD)  # the API server defaults it to 1


def test_hpa_owns_replicas():
    assert hpa_owns_replicas([deployment(), hpa()], PROD) == []
    assert hpa_owns_replicas([deployment(replicas=3)], PROD) == []  # no HPA: replicas are fine
    found = hpa_owns_replicas([deployment(replicas=3), hpa()], PROD)
    assert len(found) == 1 and "sets spec.replicas (3)" in found[0][1]


def test_pdb_allows_eviction_against_hpa_floor():
    assert pdb_allows_eviction([deployment(), hpa(min_replicas=3), pdb(minAvailable=2)], PROD) == []
    found = pdb_allows_eviction([deployment(), hpa(min_replicas=3), pdb(minAvailable=3)], PROD)
    assert len(found) == 1 and found[0][0]["kind"] == "PodDisruptionBudget"
    assert "minAvailable 3 is not below the 3 replicas" in found[0][1]


def test_pdb_allows_eviction_percent_and_max_unavailable():
    assert pdb_allows_eviction([deployment(), hpa(min_replicas=2), pdb(minAvailable="100%")], PROD)
    assert pdb_allows_eviction([deployment(), hpa(min_replicas=4), pdb(minAvailable="50%")], PROD) == []
    assert pdb_allows_eviction([deployment(replicas=3), pdb(maxUnavailable=0)], PROD)
    assert pdb_allows_eviction([deployment(replicas=3), pdb(maxUnavailable=1)], PROD) == []


def test_prod_spread_names_the_ceiling_and_starts_at_two_replicas():
    assert _names(prod_spread([deployment(replicas=2, spread=False)], PROD)) == [
        ("Deployment", "runs up to 2 replicas in prod with neither podAntiAffinity nor topologySpreadConstraints")]


def test_required_anti_affinity_spreads_too_and_an_empty_one_does_not():
    def with_anti(anti):
        d = deployment(replicas=3, spread=False)
        d["spec"]["template"]["spec"]["affinity"] = {"podAntiAffinity": anti}
        return prod_spread([d], PROD)

    assert with_anti({"requiredDuringSchedulingIgnoredDuringExecution": [{"topologyKey": "kubernetes.io/hostname"}]}) == []
    assert len(with_anti({"requiredDuringSchedulingIgnoredDuringExecution": []})) == 1
    assert len(with_anti({})) == 1


def test_hpa_owns_replicas_names_the_hpa():
    found = hpa_owns_replicas([deployment(replicas=3), hpa()], PROD)
    assert _names(found) == [("Deployment", "sets spec.replicas (3) although HorizontalPodAutoscaler web owns "
                                            "the replica count")]


def test_a_blocking_pdb_names_where_the_floor_comes_from():
    found = pdb_allows_eviction([deployment(), hpa(min_replicas=3), pdb(minAvailable=3)], PROD)
    assert _names(found) == [("PodDisruptionBudget", "minAvailable 3 is not below the 3 replicas it may run with "
                                                     "(HPA web minReplicas of Deployment shop/web): a node drain "
                                                     "can never proceed")]
    found = pdb_allows_eviction([deployment(replicas=2), pdb(maxUnavailable="0%")], PROD)
    assert _names(found) == [("PodDisruptionBudget", "maxUnavailable 0% forbids every voluntary eviction "
                                                     "(spec.replicas of Deployment shop/web): a node drain "
                                                     "can never proceed")]


def test_percent_budgets_round_up_like_the_eviction_api():
    # 67% of 3 pods is 2.01, rounded up to 3: nothing may be evicted. 66% is 1.98: 2.
    assert pdb_allows_eviction([deployment(), hpa(min_replicas=3), pdb(minAvailable="67%")], PROD)
    assert pdb_allows_eviction([deployment(), hpa(min_replicas=3), pdb(minAvailable="66%")], PROD) == []
    assert pdb_allows_eviction([deployment(), hpa(min_replicas=100), pdb(minAvailable="99.5%")], PROD)
    assert pdb_allows_eviction([deployment(), hpa(min_replicas=100), pdb(minAvailable="99%")], PROD) == []


def test_every_spelling_of_zero_max_unavailable_forbids_evictions():
    for zero in (0, 0.0, "0", "0%"):
        assert pdb_allows_eviction([deployment(replicas=3), pdb(maxUnavailable=zero)], PROD), zero
    for some in (1, "1", "10%"):
        assert pdb_allows_eviction([deployment(replicas=3), pdb(maxUnavailable=some)], PROD) == [], some


def test_a_workload_without_replicas_or_hpa_runs_one_pod():
    single = deployment()  # no spec.replicas, as the API server would default to 1
    assert "replicas" not in single["spec"]
    assert pdb_for_replicated([single], PROD) == [] and prod_spread([deployment(spread=False)], PROD) == []


def test_only_a_pdb_whose_selector_matches_the_pods_covers_them():
    other = pdb()
    other["spec"]["selector"] = {"matchLabels": {"app.kubernetes.io/name": "api"}}
    assert len(pdb_for_replicated([deployment(replicas=3), other], PROD)) == 1
    empty = pdb()
    empty["spec"]["selector"] = {}  # selects nothing in policy/v1
    assert len(pdb_for_replicated([deployment(replicas=3), empty], PROD)) == 1
    assert pdb_for_replicated([deployment(replicas=3), pdb()], PROD) == []


def test_only_an_hpa_of_the_same_namespace_naming_this_kind_and_name_scales_it():
    elsewhere = hpa(max_replicas=5)
    elsewhere["metadata"]["namespace"] = "ops"
    assert pdb_for_replicated([deployment(), elsewhere], PROD) == []
    other_kind = hpa(max_replicas=5)
    other_kind["spec"]["scaleTargetRef"]["kind"] = "StatefulSet"
    assert pdb_for_replicated([deployment(), other_kind], PROD) == []
    other_name = hpa(max_replicas=5)
    other_name["spec"]["scaleTargetRef"]["name"] = "api"
    assert pdb_for_replicated([deployment(), other_name], PROD) == []
    not_an_hpa = {**hpa(max_replicas=5), "kind": "VerticalPodAutoscaler"}
    assert pdb_for_replicated([deployment(), not_an_hpa], PROD) == []
    assert len(pdb_for_replicated([deployment(), hpa(max_replicas=5)], PROD)) == 1
