"""Secret-looking env vars and Secrets built from clear text, offline and under the Pulumi SDK."""

import base64

import pytest
from policy_builders import container, deployment, secret

from policies.guardrails import UNKNOWN, Context
from policies.guardrails.secrets import (
    PULUMI_SECRET_SIG,
    PULUMI_SIG_KEY,
    env_secret_refs,
    is_marked_secret,
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


@pytest.mark.parametrize("value", ["[secret]", "[masked]", "<secret>", "(secret)", "  [secret]\n", "***",
                                   "<secret: masked>"])
def test_every_mask_a_render_prints_is_a_marked_secret(value):
    assert is_marked_secret(value)


@pytest.mark.parametrize("value", ["**", "<secret", "secret>", "x<secret>", "[secret] x", "hunter2", 5, None, ["a"],
                                   {PULUMI_SIG_KEY: "another-signature"}])
def test_anything_else_is_not_marked(value):
    assert not is_marked_secret(value)


def test_a_secret_from_the_pulumi_policy_sdk_is_marked_and_a_look_alike_is_not():
    sdk_secret = type("Secret", (), {"__module__": "pulumi_policy.policy"})()
    look_alike = type("Secret", (), {"__module__": "myapp.models"})()
    other_sdk_type = type("Output", (), {"__module__": "pulumi_policy.policy"})()
    assert is_marked_secret(sdk_secret)
    assert not is_marked_secret(look_alike) and not is_marked_secret(other_sdk_type)


def test_a_clear_text_value_that_is_not_text_is_still_clear_text_offline():
    assert secret_not_clear_text(secret(port=5432), OFFLINE) == [
        "stringData.port holds a clear-text value (not a Pulumi secret)"]
    assert secret_not_clear_text(secret(port=5432), PULUMI) == []  # unwrapped: only a config match counts


def test_data_that_is_not_strict_base64_is_not_decoded():
    obj = secret()
    valid = base64.b64encode(b"hunter2-plain").decode()
    obj["data"] = {"password": valid[:4] + "*" + valid[4:]}  # a lax decoder would skip the "*"
    assert secret_not_clear_text(obj, PULUMI) == []
    obj["data"] = {"password": base64.b64encode(b"\xff\xfe").decode()}  # not UTF-8
    assert secret_not_clear_text(obj, PULUMI) == []
    assert secret_not_clear_text(obj, OFFLINE) == ["data.password holds a clear-text value (not a Pulumi secret)"]


@pytest.mark.parametrize("name", ["db.password", "db-api-key", "x_api_keys", "MY_ACCESS_KEY", "AUTH_KEY",
                                  "SIGNING_KEY", "SECRET_KEY", "passwd", "pwd", "pass", "tokens", "credentials",
                                  "apikey", "PRIVATEKEY"])
def test_secret_looking_words_and_pairs_in_any_case_and_separator(name):
    assert secret_looking(name)


@pytest.mark.parametrize("name", ["KEY", "API", "API_HOST_KEY", "KEYS_API", "PRIVATE", "MONKEY", "PASSAGE_TIME"])
def test_a_pair_must_be_adjacent_and_in_order(name):
    assert not secret_looking(name)


def test_a_file_reference_is_a_path_without_blanks():
    def refs(name, value):
        return env_secret_refs(_env({"name": name, "value": value}), OFFLINE)

    assert refs("DB_PASSWORD_FILE", "/run/secrets/db") == []
    assert refs("db_password_file", "/run/secrets/db") == []
    assert refs("DB_PASSWORD_FILE", "/run/secrets/my db") != []
    assert refs("DB_PASSWORD_FILE", "run/secrets/db") != []
    assert refs("DB_PASSWORD_FILES", "/run/secrets/db") != []


def test_env_values_that_are_empty_or_absent_hold_nothing():
    assert env_secret_refs(_env({"name": "DB_PASSWORD", "value": ""}, {"name": "API_TOKEN", "value": None},
                                {"name": "SECRET_KEY"}), OFFLINE) == []
    assert env_secret_refs(deployment(containers=[container(env=[{"value": "x://u:p@h"}])]), OFFLINE) == [
        "container web env ? holds a URL with an embedded password"]


@pytest.mark.parametrize("url, embedded", [
    ("postgresql://u:pw@db:5432/x", True), ("redis://:pw@redis:6379/0", True),
    ("postgresql://u@db:5432/x", False), ("https://db/x?a=b:c@d", False), ("mailto:a@b", False),
    ("not a url://u:p@h", False), ("1http://u:p@h", False)])
def test_a_url_with_a_password_needs_a_scheme_a_user_part_and_a_password(url, embedded):
    found = env_secret_refs(_env({"name": "DATABASE_URL", "value": url}), OFFLINE)
    assert found == (["container web env DATABASE_URL holds a URL with an embedded password"] if embedded else [])


def test_every_value_of_a_secret_is_judged_after_a_masked_one():
    assert secret_not_clear_text(secret(a=MASK, b="hunter2", c="********"), OFFLINE) == [
        "stringData.b holds a clear-text value (not a Pulumi secret)"]


def test_every_variable_is_judged_after_an_empty_one_or_a_file_reference():
    assert env_secret_refs(_env({"name": "A_TOKEN", "value": ""}, {"name": "DB_PASSWORD_FILE", "value": "/run/s"},
                                {"name": "DB_PASSWORD", "value": "hunter2"}), OFFLINE) == [
        "container web env DB_PASSWORD holds a plain value; it looks like a credential"]
