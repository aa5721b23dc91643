"""Enforcement by environment: prod and staging mandatory, the rest advisory; the pack's config agrees."""

import json
from pathlib import Path

import pytest
from policy_builders import clean_stack, container, deployment

from loadline.check import check_objects
from policies.guardrails import ENVIRONMENT_ENFORCEMENT, ENVIRONMENTS, Context, Level, enforcement_for

PACK_CONFIG = Path(__file__).resolve().parents[2] / "policies" / "config"


@pytest.mark.parametrize("env, level", [("prod", Level.MANDATORY), ("staging", Level.MANDATORY),
                                        ("dev", Level.ADVISORY), ("review", Level.ADVISORY),
                                        ("local", Level.ADVISORY), ("unknown", Level.MANDATORY)])
def test_enforcement_for(env, level):
    assert enforcement_for(env) is level


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_pack_config_files_match_the_environment_levels(env):
    config = json.loads((PACK_CONFIG / f"{env}.json").read_text())
    assert config["all"] == ENVIRONMENT_ENFORCEMENT[env].value


def _violating():
    return [deployment(containers=[container(image="nginx")])] + clean_stack()[1:]


def test_mandatory_violation_fails_and_advisory_only_warns():
    strict = check_objects(_violating(), Context(environment="staging"), source="t")
    assert strict.level is Level.MANDATORY and strict.exit_code == 1
    # image-digests blocks only in prod: in staging the untagged image fails images-pinned alone.
    assert [f.policy for f in strict.mandatory] == ["images-pinned"]
    assert [f.policy for f in strict.advisory] == ["image-digests"]
    lax = check_objects(_violating(), Context(environment="dev"), source="t")
    assert lax.level is Level.ADVISORY and len(lax.advisory) == 2 and lax.exit_code == 0


def test_explicit_level_overrides_the_environment():
    result = check_objects(_violating(), Context(environment="dev"), source="t", level=Level.MANDATORY)
    assert result.exit_code == 1
