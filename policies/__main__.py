"""The policy pack's entry point: the only module that calls PolicyPack (which starts a server and blocks)."""

import sys
from pathlib import Path

try:
    import policies.guardrails  # noqa: F401  (installed with the project)
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import PolicyPack

from policies.guardrails.pulumi_adapters import PACK_NAME, build_policies, pack_enforcement

PolicyPack(
    name=PACK_NAME,
    policies=build_policies(),
    enforcement_level=pack_enforcement(),
    description="Production guardrails: hardened pods, pinned images, disruption budgets, "
                "network isolation, scraped services and SLO alerts.",
)
