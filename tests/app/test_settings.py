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
    monkeypatch.setenv("EVENTS_CACHE_TTL_SECONDS", "12")
    s = Settings()
    assert s.api_keys == ["k3y-9f8e7d6c5b4a3210", "second-key-0123456789"]
    assert s.redis_url == ["redis://a:6379", "redis://b:6379"]
    assert (s.redis_mode, s.workers, s.prometheus_multiproc_dir, s.cache_ttl_seconds, s.port) == \
        ("cluster", 4, "/tmp/prom", 12, 8000)


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
