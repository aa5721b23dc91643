"""docs/policies.md documents every policy of the pack and every environment's pack config."""

from pathlib import Path

from policies.guardrails import ENVIRONMENTS, POLICIES

DOC = (Path(__file__).resolve().parents[2] / "docs" / "policies.md").read_text()


def test_every_policy_has_a_row():
    missing = [p.name for p in POLICIES if f"| `{p.name}` |" not in DOC]
    assert missing == []


def test_every_environment_config_is_shown():
    assert all(f"policies/config/{env}.json" in DOC for env in ENVIRONMENTS)
