from __future__ import annotations

import os
import subprocess
import time
from urllib.parse import urlparse

import pulumi
from component_helpers import make_profile

from components.postgres import Postgres, PostgresArgs, backup_script, server_args
from loadline.render.values import is_secret


def pg_for(build, profile, **kw):
    return build(lambda: Postgres("loadline-postgres", PostgresArgs(profile=profile, namespace=profile.namespace, **kw)))


def container(sts, name):
    return next(c for c in sts["spec"]["template"]["spec"]["containers"] if c["name"] == name)


def test_password_is_generated_kept_secret_and_referenced(build):
    rec = pg_for(build, make_profile("prod"))
    password = rec.one("RandomPassword").props
    assert password["length"] >= 32 and password["special"] is False
    secret = rec.one("core/v1:Secret")
    assert is_secret(secret.raw["stringData"]), "password and URL must reach the engine as secrets"
    sts = rec.one("StatefulSet").props
    env = {e["name"]: e for e in container(sts, "postgres")["env"]}
    assert env["POSTGRES_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "loadline-postgres", "key": "password"}
    assert all("value" not in e or "PASS" not in name for name, e in env.items())
    exporter = {e["name"]: e for e in container(sts, "exporter")["env"]}
    assert "secretKeyRef" in exporter["DATA_SOURCE_PASS"]["valueFrom"]


def test_tuning_storage_and_exporter_follow_the_profile(build):
    profile = make_profile("prod", {"postgres": {"tuning": {"maxConnections": 321, "workMem": "32MB"}}})
    rec = pg_for(build, profile)
    sts = rec.one("StatefulSet").props
    args = container(sts, "postgres")["args"]
    assert "max_connections=321" in args and "work_mem=32MB" in args and "shared_buffers=1GB" in args
    assert args == server_args(profile)
    (claim,) = sts["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "50Gi"
    assert claim["spec"]["storageClassName"] == "standard"
    assert container(sts, "postgres")["readinessProbe"]["exec"]["command"][0] == "pg_isready"
    exporter = container(sts, "exporter")
    assert exporter["image"].startswith("prometheuscommunity/postgres-exporter:v")
    assert exporter["ports"] == [{"name": "metrics", "containerPort": 9187, "protocol": "TCP"}]
    for c in sts["spec"]["template"]["spec"]["containers"]:
        assert c["securityContext"]["readOnlyRootFilesystem"] is True
        assert c["securityContext"]["capabilities"] == {"drop": ["ALL"]}


def test_backup_cronjob_schedule_retention_and_unawaited_claim(build):
    rec = pg_for(build, make_profile("prod"))
    cron = rec.one("CronJob").props["spec"]
    assert cron["schedule"] == "15 1 * * *" and cron["concurrencyPolicy"] == "Forbid"
    c = cron["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert c["command"] == ["sh", "-c", backup_script(14)]
    assert "-mtime +13" in c["command"][2]
    env = {e["name"]: e for e in c["env"]}
    assert "secretKeyRef" in env["PGPASSWORD"]["valueFrom"]
    claim = rec.one("PersistentVolumeClaim").props
    assert claim["metadata"]["annotations"]["pulumi.com/skipAwait"] == "true"


def test_external_mode_creates_only_the_secret(build):
    profile = make_profile("prod", {"postgres": {"mode": "external", "storage": None, "tuning": None,
                                                 "backup": None, "resources": None,
                                                 "externalUrlSecret": "databaseUrl"}})
    url = pulumi.Output.secret("postgresql://app:pw@db.example.com:5432/events")
    rec = pg_for(build, profile, external_url=url)
    kube = [r for r in rec.registered if r.type_token.startswith("kubernetes:")]
    assert [r.props["kind"] for r in kube] == ["Secret"]
    assert is_secret(kube[0].raw["stringData"])
    assert rec.of_type("RandomPassword") == []


def test_backup_script_dumps_a_real_database_and_prunes_old_dumps(postgres, tmp_path):
    # As the application role, which owns what the migrations create in a real deployment.
    subprocess.run(["psql", postgres.url, "-v", "ON_ERROR_STOP=1", "-qc",
                    "CREATE TABLE IF NOT EXISTS backup_probe (id int); INSERT INTO backup_probe VALUES (42);"],
                   check=True, capture_output=True, timeout=30)
    backups = tmp_path / "backups"
    backups.mkdir()
    stale = backups / "loadline-20200101T000000Z.dump"
    recent = backups / "loadline-recent.dump"
    stale.write_text("old")
    recent.write_text("kept")
    now = time.time()
    os.utime(stale, (now - 15 * 86400, now - 15 * 86400))
    os.utime(recent, (now - 2 * 86400, now - 2 * 86400))
    url = urlparse(postgres.url)
    env = {**os.environ, "BACKUP_DIR": str(backups), "PGHOST": url.hostname, "PGPORT": str(url.port),
           "PGDATABASE": url.path.lstrip("/"), "PGUSER": url.username, "PGPASSWORD": url.password}
    done = subprocess.run(["sh", "-c", backup_script(14)], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    dumps = sorted(p.name for p in backups.glob("loadline-*.dump"))
    assert stale.name not in dumps and recent.name in dumps and len(dumps) == 2
    fresh = next(p for p in backups.glob("loadline-2*.dump"))
    listing = subprocess.run(["pg_restore", "--list", str(fresh)], capture_output=True, text=True, check=True)
    assert "backup_probe" in listing.stdout
    assert not list(backups.glob(".*.partial"))
