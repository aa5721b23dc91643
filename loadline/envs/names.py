"""Review environment names.

A name becomes the Pulumi stack name, the stack file `stacks/Pulumi.<name>.yaml` and the
Kubernetes namespace `review-<name>`. The namespace is the strictest of the three (a DNS-1123
label of at most 63 characters), so the name is checked against it.
"""

from __future__ import annotations

import re

from loadline.envs.errors import EnvError

NAMESPACE_PREFIX = "review-"
MAX_LABEL = 63
MAX_NAME = MAX_LABEL - len(NAMESPACE_PREFIX)
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")


def namespace_for(name: str) -> str:
    return f"{NAMESPACE_PREFIX}{name}"


def validate_name(name: str) -> str:
    """Return `name` unchanged, or raise EnvError naming the rule it breaks."""
    if not name:
        raise EnvError("invalid env name '': a name is required (e.g. pr-123)")
    if len(name) > MAX_NAME:
        raise EnvError(
            f"invalid env name '{name}': too long ({len(name)} characters); the namespace "
            f"'{namespace_for(name)}' must be at most {MAX_LABEL} characters, so names are at most "
            f"{MAX_NAME}")
    if not _DNS_LABEL.match(name):
        raise EnvError(
            f"invalid env name '{name}': not a DNS-1123 label (lowercase letters, digits and '-', "
            "starting and ending with a letter or digit), e.g. pr-123")
    return name
