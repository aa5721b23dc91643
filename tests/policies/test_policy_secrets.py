"""Secret-looking env vars and Secrets built from clear text, offline and under the Pulumi SDK."""

import base64

import pytest
from policy_builders import container, deployment, secret

from policies.guardrails import UNKNOWN, Context
from policies.guardrails.secrets import (
    PULUMI_SECRET_SIG,
    PULUMI_SIG_KEY,
    env_secret_refs,
    secret_looking,
    secret_not_clear_text,
)

OFFLINE = Context()
PULUMI = Context(secrets_marked=False, clear_text_config={"hunter2-plain": "app:dbPassword"})
MASK = "<secret: masked by loadline render; the real value lives only in Pulumi state>"


@pytest.mark.parametrize("name", ["DB_PASSWORD", "EVENTS_API_KEYS", "GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY",
                                  "PRIVATE_KEY", "SENTRY_DSN"])
def test_secret_looking_names(name):
    assert secret_looking(name)


@pytest.mark.parametrize("name", ["EVENTS_REDIS_URL", "EVENTS_PORT", "PROMETHEUS_MULTIPROC_DIR", "CACHE_KEY_PREFIX"])
def test_ordinary_names(name):
    assert not secret_looking(name)


def _env(*env):
    return deployment(containers=[container(env=list(env))])


def test_env_secret_refs_pass():
    ok = _env({"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
              {"name": "EVENTS_PORT", "value": "8000"},
              {"name": "EVENTS_REDIS_URL", "value": "redis://redis:6379/0"})
    assert env_secret_refs(ok, OFFLINE) == []


def test_env_secret_refs_fail_on_plain_credential_and_url_password():
    msgs = env_secret_refs(_env({"name": "DB_PASSWORD", "value": "hunter2"},
                                {"name": "DATABASE_URL", "value": "postgresql://u:pw@db:5432/x"}), OFFLINE)
    assert msgs == ["container web env DB_PASSWORD holds a plain value; it looks like a credential",
                    "container web env DATABASE_URL holds a URL with an embedded password"]


def test_env_secret_refs_flags_computed_plain_values_by_name():
    assert env_secret_refs(_env({"name": "API_TOKEN", "value": UNKNOWN}), OFFLINE)


@pytest.mark.parametrize("value", [MASK, "********", UNKNOWN,
                                   {PULUMI_SIG_KEY: PULUMI_SECRET_SIG, "value": "s3cret"}])
def test_marked_secret_values_pass_offline(value):
    assert secret_not_clear_text(secret(password=value), OFFLINE) == []


def test_clear_text_secret_fails_offline():
    msgs = secret_not_clear_text(secret(password="hunter2"), OFFLINE)
    assert msgs == ["stringData.password holds a clear-text value (not a Pulumi secret)"]


def test_pulumi_mode_matches_clear_text_config_values():
    # Under the SDK values arrive unwrapped: only a match with clear-text config is evidence.
    assert secret_not_clear_text(secret(password="generated-elsewhere"), PULUMI) == []
    msgs = secret_not_clear_text(secret(password="hunter2-plain"), PULUMI)
    assert msgs == ["stringData.password equals the clear-text stack config value 'app:dbPassword'"]


def test_base64_data_is_decoded_before_comparison():
    obj = secret()
    obj["data"] = {"password": base64.b64encode(b"hunter2-plain").decode()}
    assert secret_not_clear_text(obj, PULUMI) == [
        "data.password equals the clear-text stack config value 'app:dbPassword'"]
