"""The Pulumi program: read the stack's profile, validate it, create one Environment.

An invalid profile stops the program before any resource is registered, with one
message naming the stack, the key and the reason.
"""

from __future__ import annotations

import pulumi

from components.environment import NAME, Environment, EnvironmentArgs
from loadline.profile import PROFILE_KEY, ProfileError, validate_profile

config = pulumi.Config("loadline")
stack = pulumi.get_stack()

try:
    raw = config.get_object("profile")
    if raw is None:
        raise ProfileError(stack, [(PROFILE_KEY, "key is missing from the stack's config")])
    profile = validate_profile(stack, raw)
except ProfileError as exc:
    # A RunError prints the message alone, without a Python traceback.
    raise pulumi.RunError(str(exc)) from None

extra_labels = config.get_object("labels") or {}
if not isinstance(extra_labels, dict) or not all(isinstance(v, str) for v in extra_labels.values()):
    raise pulumi.RunError(f"invalid config for stack '{stack}': loadline:labels: must be a map of string to string")

external_url = None
if profile.postgres.mode == "external":
    assert profile.postgres.external_url_secret
    # require_secret keeps the URL encrypted in state and masked in every output.
    external_url = config.require_secret(profile.postgres.external_url_secret)

env = Environment(NAME, EnvironmentArgs(profile=profile, external_database_url=external_url,
                                        extra_labels={str(k): str(v) for k, v in extra_labels.items()}))

pulumi.export("namespace", env.namespace)
pulumi.export("apiUrl", env.api_url)
pulumi.export("image", env.image)
pulumi.export("redisUrl", env.redis_url)
pulumi.export("databaseSecret", env.database_secret_name)
pulumi.export("prometheusUrl", env.prometheus_url)
pulumi.export("grafanaUrl", env.grafana_url)
pulumi.export("environment", profile.environment)
