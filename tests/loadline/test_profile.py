"""Profile validation: every shipped stack is valid; bad profiles name stack, key and reason."""

import copy

import pytest
import yaml
from typer.testing import CliRunner

from loadline.cli import app
from loadline.profile import (
    PROFILE_KEY, STACKS_DIR, ProfileError, available_stacks, load_profile, validate_profile,
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
        (lambda d: d["postgres"].update(mode="external"), "postgres", "externalUrlSecret"),
        (lambda d: d["monitoring"].update(mode="operator"), "monitoring", "operatorRelease"),
        (lambda d: d.pop("slo"), "slo", "required key is missing"),
    ],
)
def test_invalid_profile_names_stack_key_and_reason(mutate, key, reason):
    data = copy.deepcopy(_raw("dev"))
    mutate(data)
    with pytest.raises(ProfileError, match=f"stack 'dev'.*{key}: .*{reason}") as info:
        validate_profile("dev", data)
    assert info.value.stack == "dev"
    assert key in [k for k, _ in info.value.problems]


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
