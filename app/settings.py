"""Every setting of the service, from the environment (see docs/settings.md).

One class; it refuses placeholder secrets unless EVENTS_ENVIRONMENT=development,
so a copy-pasted example can never reach production.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Values people paste from examples. A secret containing one of these is a placeholder.
PLACEHOLDERS = ("changeme", "change-me", "change_me", "placeholder", "example", "secret",
                "password", "dev-key", "devkey", "insecure", "xxxx", "todo")
MIN_API_KEY_LENGTH = 16
# Secrets that may also come from a file named by EVENTS_<NAME>_FILE (a mounted Secret),
# so they never sit in the process environment, /proc/<pid>/environ or a crash dump.
FILE_SETTINGS = ("database_url", "api_keys")


def _read_secret_file(variable: str, path: str) -> str:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ValueError(f"{variable}: cannot read {path}: {reason}") from None
    # A file written with `echo` or an editor ends in a newline that is not part of the secret.
    return text.rstrip("\r\n")


# Settings that no longer exist, and what replaced them: ignored silently, each would leave an
# operator believing it still applies.
REPLACED_SETTINGS = {
    "EVENTS_REDIS_RETRY_AFTER_FAILURE_SECONDS": (
        "replaced by the Redis circuit breaker; set EVENTS_REDIS_BREAKER_THRESHOLD, "
        "EVENTS_REDIS_BREAKER_BASE_SECONDS and EVENTS_REDIS_BREAKER_MAX_SECONDS instead (docs/settings.md)"),
    "EVENTS_CACHE_TTL_SECONDS": (
        "replaced by a lifetime per kind of data; set EVENTS_CACHE_EVENT_TTL_SECONDS, "
        "EVENTS_CACHE_SEARCH_TTL_SECONDS, EVENTS_CACHE_L1_SIZE and EVENTS_CACHE_L1_TTL_SECONDS "
        "instead (docs/settings.md)"),
}


def _split(value: object) -> object:
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EVENTS_", extra="ignore", frozen=True)

    environment: Literal["development", "production"] = Field(
        "production", description="development allows placeholder secrets; production refuses them")
    # repr=False: settings may end up in a log or a traceback; the secrets must not.
    database_url: str = Field(
        "postgresql://loadline:loadline@127.0.0.1:5432/loadline", repr=False,
        description="postgresql://user:password@host:port/db")
    redis_mode: Literal["standalone", "cluster"] = "standalone"
    redis_url: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["redis://127.0.0.1:6379/0"],
        description="standalone: one redis:// URL; cluster: comma-separated startup nodes")
    api_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list, repr=False, description="comma-separated keys accepted in X-API-Key for writes")
    host: str = "0.0.0.0"
    port: int = Field(8000, ge=1, le=65535)
    workers: int = Field(1, ge=1, le=64)
    server: Literal["uvicorn", "granian"] = "uvicorn"
    cache_event_ttl_seconds: int = Field(
        300, ge=1, le=86400, description="Redis (L2) lifetime of an event read by id (events never change)")
    cache_search_ttl_seconds: int = Field(
        30, ge=1, le=86400, description="Redis (L2) lifetime of a search page; a write that can change "
                                        "a page invalidates it at once")
    cache_l1_size: int = Field(
        10000, ge=1, le=1_000_000, description="entries in each worker's in-process cache (L1), "
                                               "events and search pages together")
    cache_l1_ttl_seconds: float = Field(
        2.0, gt=0, le=3600, description="lifetime of an L1 entry: the longest a worker serves a page "
                                        "that a write changed when the invalidation cannot reach it")
    rate_limit_per_second: float = Field(50.0, gt=0)
    rate_limit_burst: int = Field(100, ge=1)
    max_body_bytes: int = Field(16384, ge=256, le=10 * 1024 * 1024)
    search_max_limit: int = Field(100, ge=1, le=1000)
    db_pool_min: int = Field(1, ge=0)
    db_pool_max: int = Field(10, ge=1, le=200)
    db_timeout_seconds: float = Field(5.0, gt=0)
    redis_timeout_seconds: float = Field(0.25, gt=0)
    redis_breaker_threshold: int = Field(
        5, ge=1, le=1000, description="Redis failures in a row that open the circuit breaker")
    redis_breaker_base_seconds: float = Field(
        0.5, ge=0, le=3600, description="first open period; doubles on each reopening")
    redis_breaker_max_seconds: float = Field(
        5.0, ge=0, le=3600, description="cap of the open period (before jitter)")
    retry_after_seconds: int = Field(5, ge=1)
    migrate_wait_seconds: float = Field(60.0, ge=0)
    access_log: bool = True
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    prometheus_multiproc_dir: str | None = Field(
        None, validation_alias=AliasChoices("PROMETHEUS_MULTIPROC_DIR", "prometheus_multiproc_dir"))

    @model_validator(mode="before")
    @classmethod
    def _values_from_files(cls, data: Any) -> Any:
        """EVENTS_<NAME>_FILE: read the setting from that file; a value and a file are never both taken."""
        if not isinstance(data, dict):
            return data
        for name in FILE_SETTINGS:
            variable = f"EVENTS_{name.upper()}"
            path = os.environ.get(f"{variable}_FILE")
            if not path:
                continue
            if data.get(name) not in (None, ""):
                raise ValueError(f"{variable} and {variable}_FILE are both set; "
                                 f"set one of them (a value or a file), not both")
            value = _read_secret_file(f"{variable}_FILE", path)
            data = {**data, name: value.replace("\n", ",") if name == "api_keys" else value}
        return data

    @field_validator("redis_url", "api_keys", mode="before")
    @classmethod
    def _comma_list(cls, v: object) -> object:
        return _split(v)

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, v: str) -> str:
        parts = urlsplit(v)
        if parts.scheme not in ("postgresql", "postgres") or not parts.hostname:
            raise ValueError("must look like postgresql://user:password@host:port/db")
        return v

    @field_validator("redis_url")
    @classmethod
    def _redis_urls(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("at least one redis://host:port URL is required")
        for url in v:
            parts = urlsplit(url)
            if parts.scheme not in ("redis", "rediss") or not parts.hostname:
                raise ValueError(f"'{url}' must look like redis://host:port/0")
        return v

    @model_validator(mode="after")
    def _no_placeholders_outside_development(self) -> Settings:
        for variable, replacement in REPLACED_SETTINGS.items():
            if os.environ.get(variable):
                raise ValueError(f"{variable}: {replacement}")
        if self.cache_l1_ttl_seconds > min(self.cache_event_ttl_seconds, self.cache_search_ttl_seconds):
            raise ValueError("EVENTS_CACHE_L1_TTL_SECONDS: must be at most EVENTS_CACHE_EVENT_TTL_SECONDS "
                             "and EVENTS_CACHE_SEARCH_TTL_SECONDS (an L1 entry must not outlive Redis's)")
        if self.redis_breaker_max_seconds < self.redis_breaker_base_seconds:
            raise ValueError("EVENTS_REDIS_BREAKER_MAX_SECONDS: must be at least "
                             "EVENTS_REDIS_BREAKER_BASE_SECONDS")
        if self.redis_mode == "standalone" and len(self.redis_url) != 1:
            raise ValueError("EVENTS_REDIS_URL: standalone mode takes exactly one URL")
        if self.workers > 1 and not self.prometheus_multiproc_dir:
            raise ValueError("PROMETHEUS_MULTIPROC_DIR: required when EVENTS_WORKERS > 1 "
                             "(each worker writes its metrics there)")
        if self.environment == "development":
            return self
        problems = []
        if not self.api_keys:
            problems.append("EVENTS_API_KEYS: empty; production needs at least one key")
        for i, key in enumerate(self.api_keys):
            if len(key) < MIN_API_KEY_LENGTH or any(p in key.lower() for p in PLACEHOLDERS):
                problems.append(f"EVENTS_API_KEYS: key #{i + 1} is a placeholder or shorter than "
                                f"{MIN_API_KEY_LENGTH} characters")
        password = urlsplit(self.database_url).password or ""
        if not password or password.lower() in ("loadline", "postgres") or any(
                p in password.lower() for p in PLACEHOLDERS):
            problems.append("EVENTS_DATABASE_URL: the password is missing or a placeholder")
        if problems:
            raise ValueError("placeholder secrets refused in production "
                             "(set EVENTS_ENVIRONMENT=development to allow them): " + "; ".join(problems))
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
