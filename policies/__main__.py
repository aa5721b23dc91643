"""The policy pack's entry point: the only module that calls PolicyPack (which starts a server and blocks)."""

import sys
from pathlib import Path

from pulumi_policy import PolicyPack

# The engine runs this file as a script; the repository root makes `policies` and `loadline`
# importable from a checkout as well as from an install.
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from policies.guardrails.pulumi_adapters import PACK_NAME, build_policies, pack_enforcement  # noqa: E402

PolicyPack(
    name=PACK_NAME,
    policies=build_policies(),
    enforcement_level=pack_enforcement(),
    description="Production guardrails: hardened pods, pinned images, disruption budgets, "
                "network isolation, scraped services and SLO alerts.",
)
