"""The Redis and PostgreSQL exporters of the local environment.

In a cluster each Redis pod and the PostgreSQL pod carry an exporter sidecar
(redis_exporter, postgres_exporter); locally the same two projects run from
Debian's packages, one redis exporter per Redis node as there is one sidecar
per pod. The local Prometheus scrapes them with the `redis` and `postgres` jobs
that render emits, so the "down" alerts are evaluated on real series.
"""

from __future__ import annotations

import os
import shutil

REDIS_EXPORTER = "prometheus-redis-exporter"
POSTGRES_EXPORTER = "prometheus-postgres-exporter"
PACKAGES = {REDIS_EXPORTER: "prometheus-redis-exporter", POSTGRES_EXPORTER: "prometheus-postgres-exporter"}


def missing() -> list[str]:
    """The Debian packages whose exporter binary is not on PATH."""
    return [pkg for binary, pkg in PACKAGES.items() if shutil.which(binary) is None]


def redis_command(redis_url: str, listen: str) -> list[str]:
    """One exporter for the Redis node at `redis_url` (redis://host:port[/db])."""
    return [REDIS_EXPORTER, f"-redis.addr={redis_url}", f"-web.listen-address={listen}"]


def postgres_command(listen: str) -> list[str]:
    return [POSTGRES_EXPORTER, f"--web.listen-address={listen}"]


def postgres_env(database_url: str) -> dict[str, str]:
    """The exporter reads its connection from DATA_SOURCE_NAME; loopback needs no TLS."""
    sep = "&" if "?" in database_url else "?"
    return {**os.environ, "DATA_SOURCE_NAME": f"{database_url}{sep}sslmode=disable"}
