"""Building a policy Context from a profile and from Pulumi stack configuration."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from loadline.profile import PROFILE_KEY, SLO_TARGETS, validate_profile
from policies.guardrails.model import Context

# Shorter clear-text values (`true`, `1`, `dev`) would match by coincidence, not by origin.
MIN_CLEAR_TEXT_LENGTH = 4


def slo_targets(profile: Any) -> tuple[str, ...]:
    """The SLO targets a profile sets (snake_case keys of `profile.slo`, as the alert rules label them)."""
    slo = getattr(profile, "slo", None)
    return tuple(t for t in SLO_TARGETS if getattr(slo, t, None) is not None)


def clear_text_values(config: Mapping[str, Any], secret_keys: Iterable[str] = ()) -> dict[str, str]:
    """value -> key for every clear-text (non-secret) string value of a stack's config.

    Accepts both Pulumi's flat `namespace:key -> str` view and a stack file's `config:`
    mapping, where a secure value is `{secure: ...}` and is therefore skipped.
    """
    secret = set(secret_keys)
    out: dict[str, str] = {}
    for key, value in config.items():
        if key in secret or not isinstance(value, str):
            continue
        text = value.strip()
        if len(text) < MIN_CLEAR_TEXT_LENGTH or text[:1] in "{[":
            continue
        out.setdefault(value, str(key))
    return out


def profile_context(profile: Any, **overrides: Any) -> Context:
    values: dict[str, Any] = {"environment": profile.environment, "slo_targets": slo_targets(profile)}
    values.update(overrides)
    return Context(**values)


def profile_from_pulumi_config(config: Mapping[str, Any], stack: str = "stack") -> Any | None:
    """The validated Profile from Pulumi's config view, or None when it is absent or invalid."""
    raw = config.get(PROFILE_KEY)
    if raw is None:
        return None
    return _profile(raw if isinstance(raw, str) else json.dumps(raw), stack)


@lru_cache(maxsize=8)
def _profile(raw: str, stack: str) -> Any | None:
    # Validated once per config text: the engine calls every policy for every resource.
    try:
        return validate_profile(stack, json.loads(raw))
    except ValueError:
        return None
