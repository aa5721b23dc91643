"""Profile validation: every shipped stack is valid; bad profiles name stack, key and reason."""

import copy

import pytest
import yaml
from typer.testing import CliRunner

from loadline.cli import app
from loadline.profile import (
    PROFILE_KEY,
    STACKS_DIR,
    ProfileError,
    available_stacks,
    load_profile,
    read_stack_config,
    validate_profile,
)


def _raw(stack: str) -> dict:
    return yaml.safe_load((STACKS_DIR / f"Pulumi.{stack}.yaml").read_text())["config"][PROFILE_KEY]


def test_shipped_stacks_are_valid():
    stacks = available_stacks()
    assert {"dev", "staging", "prod", "local"} <= set(stacks)
    for s in stacks:
        assert load_profile(s).environment in {"dev", "staging", "prod", "local", "review"}


def test_prod_profile_sizes_and_promises():
    p = load_profile("prod")
    assert p.api.hpa.min_replicas >= 2
    assert p.redis.mode == "cluster" and p.redis.nodes == 6
    assert p.slo.p95_ms == 100 and p.slo.p99_ms == 250


@pytest.mark.parametrize(
    "mutate, key, reason",
    [
        (lambda d: d["api"]["hpa"].update(minReplics=2), "api.hpa.minReplics", "unknown key"),
        (lambda d: d["slo"].update(p95ms=100), "slo.p95ms", "unknown key"),
        (lambda d: [d["api"].pop("cache"), d["api"].update(cacheTtlSeconds=30)], "api",
         "api.cacheTtlSeconds is replaced by api.cache: set api.cache.eventTtlSeconds"),
        (lambda d: d["api"]["cache"].update(l1TtlSeconds=31), "api.cache",
         "l1TtlSeconds \\(31\\) must be at most eventTtlSeconds and searchTtlSeconds"),
        (lambda d: d["api"]["cache"].update(l1Size=0), "api.cache.l1Size", "greater than or equal to 1"),
        (lambda d: d["api"]["hpa"].update(maxReplicas=0), "api.hpa.maxReplicas", "greater than or equal to 1"),
        (lambda d: d["api"]["hpa"].update(minReplicas=5, maxReplicas=2), "api.hpa", "maxReplicas \\(2\\) must be >= minReplicas \\(5\\)"),
        (lambda d: d["image"].update(tag="latest"), "image.tag", "pinned version"),
        (lambda d: d["redis"].update(mode="cluster", shards=2), "redis", "shards >= 3"),
        (lambda d: d["redis"].update(mode="sentinel"), "redis.mode", "'standalone' or 'cluster'"),
        (lambda d: d.update(namespace="Bad_NS"), "namespace", "DNS-1123"),
        (lambda d: d["api"]["resources"]["requests"].update(cpu="2"), "api.resources", "exceeds limits.cpu"),
        (lambda d: d["api"]["resources"]["limits"].update(memory="lots"), "api.resources.limits.memory", "memory quantity"),
        (lambda d: d["load"].update(duration="ten minutes"), "load.duration", "not a duration"),
        (lambda d: d["slo"].update(p99Ms=10), "slo", "p99Ms \\(10.0\\) must be >= p95Ms"),
        (lambda d: d["slo"].update(availability=0.93), "slo.availability", "14.4x burn-rate page .* at least 0.931"),
        (lambda d: d["postgres"].update(mode="external"), "postgres", "externalUrlSecret"),
        (lambda d: d["monitoring"].update(mode="operator"), "monitoring", "operatorRelease"),
        (lambda d: d.pop("slo"), "slo", "required key is missing"),
        (lambda d: d["load"].update(rps=100), "load", "set either rps .* or users .*, not both"),
        (lambda d: [d["load"].pop("users"), d["load"].pop("spawnRate")], "load", "set either rps"),
        (lambda d: [d["load"].pop("users"), d["load"].update(rps=100)], "load", "spawnRate applies to users only"),
        (lambda d: d["load"].pop("spawnRate"), "load", "spawnRate is required with users"),
        (lambda d: d["load"].update(rps=0), "load.rps", "greater than 0"),
        (lambda d: d["load"].update(duration="30s", warmupSeconds=30), "load",
         "warmupSeconds \\(30\\) must be shorter than the load's duration \\(30s\\)"),
        (lambda d: d["load"].update(warmupSeconds=-1), "load.warmupSeconds", "greater than or equal to 0"),
        (lambda d: d["slo"].update(cacheHitRatio=1.5), "slo.cacheHitRatio", "less than or equal to 1"),
        (lambda d: d["slo"].update(maxRegressionPercent=0), "slo.maxRegressionPercent", "greater than 0"),
        (lambda d: [d["load"].pop("users"), d["load"].pop("spawnRate"), d["load"].update(rps=10)],
         "load.rps", "10 is below slo.minRps \\(20\\)"),
    ],
)
def test_invalid_profile_names_stack_key_and_reason(mutate, key, reason):
    data = copy.deepcopy(_raw("dev"))
    mutate(data)
    with pytest.raises(ProfileError, match=f"stack 'dev'.*{key}: .*{reason}") as info:
        validate_profile("dev", data)
    assert info.value.stack == "dev"
    assert key in [k for k, _ in info.value.problems]


def test_prod_promises_production_rate_by_arrival_rate():
    prod, staging = load_profile("prod"), load_profile("staging")
    assert prod.slo.min_rps >= 1000 and prod.load.rps >= prod.slo.min_rps and prod.load.users is None
    assert staging.slo.min_rps == prod.slo.min_rps * staging.api.hpa.max_replicas / prod.api.hpa.max_replicas
    assert prod.slo.cache_hit_ratio >= 0.8


def test_the_local_profile_offers_production_rate_at_a_tight_p95():
    local = load_profile("local")
    assert local.load.rps >= 1000 and local.load.users is None and local.slo.min_rps >= 1000
    assert local.slo.p95_ms <= 50 and local.slo.cache_hit_ratio >= 0.8


def test_several_problems_are_reported_together():
    data = copy.deepcopy(_raw("prod"))
    data["api"]["workers"] = 0
    data["slo"]["maxErrorRatio"] = 2
    with pytest.raises(ProfileError) as info:
        validate_profile("prod", data)
    keys = [k for k, _ in info.value.problems]
    assert keys == ["api.workers", "slo.maxErrorRatio"]
    assert "2 problems" in str(info.value)


def test_unknown_stack_lists_known_ones():
    with pytest.raises(ProfileError, match="no stack file Pulumi.nope.yaml .*known: .*prod"):
        load_profile("nope")


def test_cli_profile_exit_codes():
    runner = CliRunner()
    ok = runner.invoke(app, ["profile", "staging"])
    assert ok.exit_code == 0 and '"shards": 3' in ok.output
    bad = runner.invoke(app, ["profile", "nope"])
    assert bad.exit_code == 2 and "no stack file" in bad.output


def _check(mutate, stack: str = "dev"):
    data = copy.deepcopy(_raw(stack))
    mutate(data)
    return validate_profile(stack, data)


def _set(path: str, **values):
    def mutate(d):
        node = d
        for part in path.split("."):
            node = node[part]
        node.update(values)
    return mutate


@pytest.mark.parametrize("requests, limits, ok", [
    ({"memory": "256Mi"}, {"memory": "256Mi"}, True),      # equal meets the limit
    ({"memory": "257Mi"}, {"memory": "256Mi"}, False),
    ({"memory": "1Gi"}, {"memory": "1024Mi"}, True),       # units are compared by value
    ({"memory": "1025Mi"}, {"memory": "1Gi"}, False),
    ({"memory": "1G"}, {"memory": "1Gi"}, True),           # 10^9 < 2^30
    ({"memory": "1Gi"}, {"memory": "1G"}, False),
    ({"cpu": "500m"}, {"cpu": "500m"}, True),
    ({"cpu": "501m"}, {"cpu": "500m"}, False),
    ({"cpu": "0.5"}, {"cpu": "500m"}, True),
    ({"cpu": "1.5"}, {"cpu": "1"}, False),
])
def test_requests_within_limits_at_the_boundary(requests, limits, ok):
    def mutate(d):
        d["api"]["resources"]["requests"].update(requests)
        d["api"]["resources"]["limits"].update(limits)
    if ok:
        _check(mutate)
    else:
        part = "cpu" if "cpu" in requests else "memory"
        with pytest.raises(ProfileError, match=f"api.resources: requests.{part} .* exceeds limits.{part}"):
            _check(mutate)


@pytest.mark.parametrize("values, reason", [
    ({"shards": 3}, "standalone mode takes shards: 1 and replicasPerShard: 0"),
    ({"replicasPerShard": 1}, "standalone mode takes shards: 1 and replicasPerShard: 0"),
])
def test_standalone_redis_takes_one_shard_and_no_replicas(values, reason):
    with pytest.raises(ProfileError, match=f"redis: {reason}"):
        _check(_set("redis", **values))


def test_cluster_redis_needs_three_shards_exactly_at_the_boundary():
    assert _check(_set("redis", mode="cluster", shards=3, replicasPerShard=1)).redis.nodes == 6
    with pytest.raises(ProfileError, match="redis: cluster mode needs shards >= 3 .*got 2"):
        _check(_set("redis", mode="cluster", shards=2))


def test_hpa_min_equal_to_max_is_valid():
    assert _check(_set("api.hpa", minReplicas=3, maxReplicas=3)).api.hpa.max_replicas == 3


def test_p99_equal_to_p95_is_valid():
    assert _check(_set("slo", p95Ms=200, p99Ms=200)).slo.p99_ms == 200


@pytest.mark.parametrize("mutate, key, reason", [
    (lambda d: d["postgres"].update(externalUrlSecret="dbUrl"), "postgres", "externalUrlSecret is only for external mode"),
    (lambda d: d["postgres"].pop("backup"), "postgres", "inCluster mode needs backup"),
    (lambda d: d["postgres"].update(mode="external", externalUrlSecret="dbUrl"), "postgres",
     "external mode takes no storage, tuning, backup, resources"),
    (lambda d: d["postgres"]["tuning"].update(workMem="4 MB"), "postgres.tuning.workMem", "PostgreSQL memory setting"),
    (lambda d: d["postgres"]["tuning"].update(workMem="4MB\n"), "postgres.tuning.workMem", "PostgreSQL memory setting"),
    (lambda d: d["postgres"]["backup"].update(schedule="daily"), "postgres.backup.schedule", "5-field cron"),
    (lambda d: d["redis"]["persistence"].update(size="big"), "redis.persistence.size", "storage quantity"),
    (lambda d: d["api"]["resources"]["requests"].update(cpu="fast"), "api.resources.requests.cpu", "CPU quantity"),
    (lambda d: d["image"].update(tag=""), "image.tag", "pinned version"),
], ids=["url-in-cluster", "missing-backup", "external-extra", "work-mem", "work-mem-newline", "cron", "size", "cpu", "empty-tag"])
def test_more_invalid_profiles(mutate, key, reason):
    with pytest.raises(ProfileError, match=f"{key}: .*{reason}"):
        _check(mutate)


def test_external_postgres_with_a_secret_is_valid():
    def mutate(d):
        d["postgres"] = {"mode": "external", "externalUrlSecret": "dbUrl"}
    assert _check(mutate).postgres.external_url_secret == "dbUrl"


def test_operator_monitoring_with_a_release_is_valid():
    assert _check(_set("monitoring", mode="operator", operatorRelease="kps")).monitoring.operator_release == "kps"


@pytest.mark.parametrize("value, seconds", [("90s", 90), ("5m", 300), ("24h", 86400)])
def test_load_duration_in_seconds(value, seconds):
    assert _check(_set("load", duration=value)).load.duration_s == seconds


@pytest.mark.parametrize("value, expected", [("250m", 250), ("1", 1000), ("1.5", 1500), ("0.0005", 0)])
def test_cpu_millicores(value, expected):
    from loadline.profile import cpu_millicores
    assert cpu_millicores(value) == expected


@pytest.mark.parametrize("value, expected", [("256Mi", 256 * 2**20), ("1Gi", 2**30), ("1G", 10**9),
                                             ("512", 512), ("2Ki", 2048), ("3K", 3000), ("1Ti", 2**40),
                                             ("1T", 10**12), ("5M", 5 * 10**6)])
def test_memory_bytes(value, expected):
    from loadline.profile import memory_bytes
    assert memory_bytes(value) == expected


def test_image_ref_joins_repository_and_tag():
    p = load_profile("dev")
    assert p.image.ref == f"{p.image.repository}:{p.image.tag}"


def test_one_problem_is_reported_on_one_line():
    with pytest.raises(ProfileError) as info:
        _check(_set("api", workers=0))
    assert str(info.value) == ("invalid profile for stack 'dev': api.workers: "
                               "Input should be greater than or equal to 1")


def test_a_profile_that_is_not_a_mapping_is_refused():
    with pytest.raises(ProfileError, match=r"\(profile\): must be a mapping, got list"):
        validate_profile("dev", [1, 2])


def test_a_list_index_is_shown_in_brackets():
    from loadline.profile import _key_path
    assert _key_path(("api", "hpa", 0, "x")) == "api.hpa[0].x"
    assert _key_path(()) == "(profile)"


def test_stack_file_problems_are_profile_errors(tmp_path):
    (tmp_path / "Pulumi.broken.yaml").write_text("config: [unclosed\n")
    (tmp_path / "Pulumi.noconfig.yaml").write_text("encryptionsalt: x\n")
    (tmp_path / "Pulumi.nokey.yaml").write_text("config:\n  other:key: 1\n")
    with pytest.raises(ProfileError, match=r"\(file\): Pulumi.broken.yaml is not valid YAML"):
        load_profile("broken", tmp_path)
    with pytest.raises(ProfileError, match="config: Pulumi.noconfig.yaml has no `config:` mapping"):
        load_profile("noconfig", tmp_path)
    with pytest.raises(ProfileError, match="loadline:profile: key is missing from the stack's config"):
        load_profile("nokey", tmp_path)
    assert available_stacks(tmp_path) == ["broken", "noconfig", "nokey"]


GOOD_DIGEST = "sha256:" + "0123456789abcdef" * 4


@pytest.mark.parametrize("digest", [GOOD_DIGEST[:-1], GOOD_DIGEST + "0", GOOD_DIGEST.upper().replace("SHA", "sha"),
                                    "sha512:" + "0" * 64, " " + GOOD_DIGEST, GOOD_DIGEST + "\n"])
def test_an_image_digest_is_sha256_and_64_lowercase_hex_digits(digest):
    for mutate, key in ((lambda d: d["image"].update(digest=digest), "image.digest"),
                        (lambda d: d.setdefault("images", {}).update(digests={"redis": digest}), "images.digests")):
        data = copy.deepcopy(_raw("dev"))
        mutate(data)
        with pytest.raises(ProfileError) as info:
            validate_profile("dev", data)
        assert dict(info.value.problems)[key] == (
            f"'{digest}' is not a digest: expected sha256: and 64 lowercase hex digits (`crane digest IMAGE:TAG`)")


def test_a_valid_digest_is_kept_as_given():
    data = copy.deepcopy(_raw("dev"))
    data["image"]["digest"] = GOOD_DIGEST
    data.setdefault("images", {})["digests"] = {"redis": GOOD_DIGEST}
    p = validate_profile("dev", data)
    assert p.image.digest == GOOD_DIGEST and p.images.digests == {"redis": GOOD_DIGEST}
    assert p.image.ref.endswith(f":{p.image.tag}@{GOOD_DIGEST}")


@pytest.mark.parametrize("mutate, key", [
    (lambda d: d.update(namespace="loadline-dev\n"), "namespace"),
    (lambda d: d["api"]["resources"]["limits"].update(cpu="500m\n"), "api.resources.limits.cpu"),
    (lambda d: d["api"]["resources"]["limits"].update(memory="256Mi\n"), "api.resources.limits.memory"),
    (lambda d: d["load"].update(duration="30s\n"), "load.duration"),
])
def test_a_trailing_newline_is_no_valid_value(mutate, key):
    # `$` in a Python pattern also matches before a final newline; such a value would reach a manifest.
    data = copy.deepcopy(_raw("dev"))
    mutate(data)
    with pytest.raises(ProfileError) as info:
        validate_profile("dev", data)
    assert key in dict(info.value.problems)


def _error(stack, stacks_dir):
    with pytest.raises(ProfileError) as info:
        load_profile(stack, stacks_dir)
    return info.value


def test_a_missing_stack_file_lists_the_known_stacks(tmp_path):
    err = _error("qa", tmp_path)
    assert (err.stack, err.problems) == ("qa", [("(stack)", f"no stack file Pulumi.qa.yaml in {tmp_path} (known: none)")])
    (tmp_path / "Pulumi.dev.yaml").write_text("config: {}")
    (tmp_path / "Pulumi.prod.yaml").write_text("config: {}")
    assert _error("qa", tmp_path).problems[0][1].endswith("(known: dev, prod)")


@pytest.mark.parametrize("text, key, reason", [
    ("config: [", "(file)", "Pulumi.qa.yaml is not valid YAML: "),
    ("- a list", "config", "Pulumi.qa.yaml has no `config:` mapping"),
    ("config: 5", "config", "Pulumi.qa.yaml has no `config:` mapping"),
    ("", "config", "Pulumi.qa.yaml has no `config:` mapping"),
    ("config: {other: 1}", PROFILE_KEY, "key is missing from the stack's config")])
def test_a_stack_file_without_a_profile_names_the_stack_and_why(tmp_path, text, key, reason):
    (tmp_path / "Pulumi.qa.yaml").write_text(text)
    err = _error("qa", tmp_path)
    assert err.stack == "qa" and len(err.problems) == 1
    assert err.problems[0][0] == key and err.problems[0][1].startswith(reason)


def test_a_stack_file_gives_its_config_and_the_profile_is_validated_under_its_name(tmp_path):
    (tmp_path / "Pulumi.qa.yaml").write_text(yaml.safe_dump({"config": {PROFILE_KEY: {"environment": "nope"}}}))
    assert read_stack_config("qa", tmp_path) == {PROFILE_KEY: {"environment": "nope"}}
    assert _error("qa", tmp_path).stack == "qa"


def test_unknown_and_missing_keys_are_explained_in_full():
    data = copy.deepcopy(_raw("dev"))
    data["slo"]["p95ms"] = 100
    data.pop("load")
    with pytest.raises(ProfileError) as info:
        validate_profile("dev", data)
    problems = dict(info.value.problems)
    assert problems["slo.p95ms"] == "unknown key (check the spelling; see docs/profile.md)"
    assert problems["load"] == "required key is missing"


def test_several_problems_are_listed_one_per_line():
    data = copy.deepcopy(_raw("dev"))
    data["slo"]["p95ms"] = 100
    data.pop("load")
    with pytest.raises(ProfileError) as info:
        validate_profile("dev", data)
    lines = str(info.value).split("\n")
    assert lines[0] == f"invalid profile for stack 'dev' ({len(info.value.problems)} problems):"
    assert sorted(lines[1:]) == sorted(f"  {k}: {r}" for k, r in info.value.problems)


def test_a_profile_that_is_no_mapping_names_the_stack():
    with pytest.raises(ProfileError) as info:
        validate_profile("dev", ["a", "list"])
    assert (info.value.stack, info.value.problems) == ("dev", [("(profile)", "must be a mapping, got list")])
    assert str(info.value) == "invalid profile for stack 'dev': (profile): must be a mapping, got list"
