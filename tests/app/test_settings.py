"""Settings from the environment; placeholder secrets are refused outside development."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from pydantic import ValidationError

from app.settings import Settings

STRONG = dict(api_keys="k3y-9f8e7d6c5b4a3210", database_url="postgresql://svc:Zq8wX2vR7tLm@db:5432/events")


def test_environment_names_are_read(monkeypatch):
    monkeypatch.setenv("EVENTS_ENVIRONMENT", "production")
    monkeypatch.setenv("EVENTS_DATABASE_URL", STRONG["database_url"])
    monkeypatch.setenv("EVENTS_API_KEYS", "k3y-9f8e7d6c5b4a3210, second-key-0123456789")
    monkeypatch.setenv("EVENTS_REDIS_MODE", "cluster")
    monkeypatch.setenv("EVENTS_REDIS_URL", "redis://a:6379,redis://b:6379")
    monkeypatch.setenv("EVENTS_WORKERS", "4")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "/tmp/prom")
    monkeypatch.setenv("EVENTS_CACHE_SEARCH_TTL_SECONDS", "12")
    monkeypatch.setenv("EVENTS_CACHE_EVENT_TTL_SECONDS", "90")
    monkeypatch.setenv("EVENTS_CACHE_L1_SIZE", "77")
    monkeypatch.setenv("EVENTS_CACHE_L1_TTL_SECONDS", "1.5")
    s = Settings()
    assert s.api_keys == ["k3y-9f8e7d6c5b4a3210", "second-key-0123456789"]
    assert s.redis_url == ["redis://a:6379", "redis://b:6379"]
    assert (s.redis_mode, s.workers, s.prometheus_multiproc_dir, s.port) == ("cluster", 4, "/tmp/prom", 8000)
    assert (s.cache_search_ttl_seconds, s.cache_event_ttl_seconds, s.cache_l1_size, s.cache_l1_ttl_seconds) == \
        (12, 90, 77, 1.5)


@pytest.mark.parametrize("overrides, field", [
    ({"api_keys": "changeme-changeme-123"}, "EVENTS_API_KEYS"),
    ({"api_keys": "short"}, "EVENTS_API_KEYS"),
    ({"api_keys": ""}, "EVENTS_API_KEYS"),
    ({"database_url": "postgresql://loadline:loadline@db/x"}, "EVENTS_DATABASE_URL"),
    ({"database_url": "postgresql://svc:password123@db/x"}, "EVENTS_DATABASE_URL"),
])
def test_placeholders_are_refused_in_production(overrides, field):
    with pytest.raises(ValidationError, match=field):
        Settings(**{**STRONG, "environment": "production", **overrides})
    Settings(**{**STRONG, "environment": "development", **overrides})  # allowed while developing


def test_bad_values_name_the_setting():
    with pytest.raises(ValidationError, match="redis_mode"):
        Settings(**STRONG, redis_mode="sentinel")
    with pytest.raises(ValidationError, match="redis://host:port"):
        Settings(**STRONG, redis_url="http://x")
    with pytest.raises(ValidationError, match="exactly one URL"):
        Settings(**STRONG, redis_url="redis://a:1,redis://b:2")
    with pytest.raises(ValidationError, match="PROMETHEUS_MULTIPROC_DIR"):
        Settings(**STRONG, workers=2)


def test_serve_refuses_to_start_with_a_placeholder_key():
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVENTS_")}
    env.update(EVENTS_ENVIRONMENT="production", EVENTS_API_KEYS="changeme",
               EVENTS_DATABASE_URL=STRONG["database_url"])
    res = subprocess.run([sys.executable, "-m", "app", "serve"], env=env, capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 2
    assert "EVENTS_API_KEYS" in res.stderr and "placeholder" in res.stderr
    assert "Traceback" not in res.stderr


def test_secrets_stay_out_of_repr():
    text = repr(Settings(**STRONG))
    assert "Zq8wX2vR7tLm" not in text and "k3y-9f8e7d6c5b4a3210" not in text


def _file(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    path.chmod(0o400)
    return str(path)


def test_secrets_are_read_from_files(monkeypatch, tmp_path):
    monkeypatch.delenv("EVENTS_DATABASE_URL", raising=False)
    monkeypatch.delenv("EVENTS_API_KEYS", raising=False)
    monkeypatch.setenv("EVENTS_DATABASE_URL_FILE", _file(tmp_path, "url", STRONG["database_url"] + "\n"))
    monkeypatch.setenv("EVENTS_API_KEYS_FILE", _file(tmp_path, "keys", "k3y-9f8e7d6c5b4a3210\nsecond-key-0123456789\n"))
    s = Settings(environment="production")
    assert s.database_url == STRONG["database_url"]
    assert s.api_keys == ["k3y-9f8e7d6c5b4a3210", "second-key-0123456789"]


def test_a_placeholder_in_a_file_is_refused_like_a_value(monkeypatch, tmp_path):
    monkeypatch.setenv("EVENTS_API_KEYS_FILE", _file(tmp_path, "keys", "changeme-changeme-123"))
    with pytest.raises(ValidationError, match="EVENTS_API_KEYS: key #1 is a placeholder"):
        Settings(environment="production", database_url=STRONG["database_url"])


@pytest.mark.parametrize("name", ["DATABASE_URL", "API_KEYS"])
def test_a_value_and_a_file_together_are_refused_naming_both(monkeypatch, tmp_path, name):
    value = STRONG[name.lower()]
    monkeypatch.setenv(f"EVENTS_{name}", value)
    monkeypatch.setenv(f"EVENTS_{name}_FILE", _file(tmp_path, "secret", value))
    with pytest.raises(ValidationError, match=f"EVENTS_{name} and EVENTS_{name}_FILE are both set"):
        Settings(**{k: v for k, v in STRONG.items() if k != name.lower()})


def test_an_unreadable_file_names_the_variable_and_the_path(monkeypatch, tmp_path):
    missing = tmp_path / "nope"
    monkeypatch.setenv("EVENTS_DATABASE_URL_FILE", str(missing))
    with pytest.raises(ValidationError, match=f"EVENTS_DATABASE_URL_FILE: cannot read {missing}"):
        Settings(api_keys=STRONG["api_keys"])


def test_serve_stops_with_one_line_when_both_are_set(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVENTS_")}
    env.update(EVENTS_ENVIRONMENT="production", EVENTS_API_KEYS=STRONG["api_keys"],
               EVENTS_DATABASE_URL=STRONG["database_url"],
               EVENTS_DATABASE_URL_FILE=_file(tmp_path, "url", STRONG["database_url"]))
    res = subprocess.run([sys.executable, "-m", "app", "serve"], env=env, capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 2
    assert "EVENTS_DATABASE_URL and EVENTS_DATABASE_URL_FILE are both set" in res.stderr
    assert "Traceback" not in res.stderr


def test_the_replaced_redis_backoff_setting_is_refused_naming_its_successors(monkeypatch):
    monkeypatch.setenv("EVENTS_REDIS_RETRY_AFTER_FAILURE_SECONDS", "1")
    with pytest.raises(ValidationError, match="EVENTS_REDIS_RETRY_AFTER_FAILURE_SECONDS: replaced by the Redis "
                                              "circuit breaker; set EVENTS_REDIS_BREAKER_THRESHOLD"):
        Settings(environment="development")


def test_the_replaced_cache_ttl_setting_is_refused_naming_its_successors(monkeypatch):
    monkeypatch.setenv("EVENTS_CACHE_TTL_SECONDS", "30")
    with pytest.raises(ValidationError, match="EVENTS_CACHE_TTL_SECONDS: replaced by a lifetime per kind of data; "
                                              "set EVENTS_CACHE_EVENT_TTL_SECONDS, EVENTS_CACHE_SEARCH_TTL_SECONDS"):
        Settings(environment="development")


def test_an_l1_ttl_longer_than_redis_is_refused(monkeypatch):
    monkeypatch.setenv("EVENTS_CACHE_SEARCH_TTL_SECONDS", "5")
    monkeypatch.setenv("EVENTS_CACHE_L1_TTL_SECONDS", "6")
    with pytest.raises(ValidationError, match="EVENTS_CACHE_L1_TTL_SECONDS: must be at most"):
        Settings(environment="development")


@pytest.mark.parametrize(("env", "match"), [
    ({"EVENTS_REDIS_BREAKER_BASE_SECONDS": "10", "EVENTS_REDIS_BREAKER_MAX_SECONDS": "5"},
     "EVENTS_REDIS_BREAKER_MAX_SECONDS: must be at least EVENTS_REDIS_BREAKER_BASE_SECONDS"),
    ({"EVENTS_REDIS_BREAKER_THRESHOLD": "0"}, "redis_breaker_threshold"),
])
def test_breaker_settings_are_checked(monkeypatch, env, match):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(ValidationError, match=match):
        Settings(environment="development")


def test_breaker_settings_are_read(monkeypatch):
    monkeypatch.setenv("EVENTS_REDIS_BREAKER_THRESHOLD", "7")
    monkeypatch.setenv("EVENTS_REDIS_BREAKER_BASE_SECONDS", "0.25")
    monkeypatch.setenv("EVENTS_REDIS_BREAKER_MAX_SECONDS", "8")
    s = Settings(environment="development")
    assert (s.redis_breaker_threshold, s.redis_breaker_base_seconds, s.redis_breaker_max_seconds) == (7, 0.25, 8)
