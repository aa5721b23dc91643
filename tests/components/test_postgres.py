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
    pod = sts["spec"]["template"]["spec"]
    (volume,) = [v for v in pod["volumes"] if "secret" in v]
    assert volume["secret"] == {"secretName": "loadline-postgres", "defaultMode": 0o440,
                                "items": [{"key": "password", "path": "password"}]}
    for name, variable in (("postgres", "POSTGRES_PASSWORD_FILE"), ("exporter", "DATA_SOURCE_PASS_FILE")):
        c = container(sts, name)
        env = {e["name"]: e for e in c["env"]}
        assert not any("valueFrom" in e and "secretKeyRef" in e["valueFrom"] for e in env.values())
        (mount,) = [m for m in c["volumeMounts"] if m["name"] == volume["name"]]
        assert mount["readOnly"] is True
        assert env[variable]["value"] == f"{mount['mountPath']}/password"


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
    assert "PGPASSWORD" not in env and env["PGPASSWORD_FILE"]["value"] == "/run/secrets/postgres/password"
    assert {"name": "password", "mountPath": "/run/secrets/postgres", "readOnly": True} in c["volumeMounts"]
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
    # A reader whose password needs pgpass escaping (':' and '\\'), read from a file mounted
    # the way the kubelet mounts the Secret: mode 0440, never an environment variable.
    postgres.psql("DROP ROLE IF EXISTS backup_reader; "
                  "CREATE ROLE backup_reader LOGIN PASSWORD 'rd:pw\\x9'; GRANT pg_read_all_data TO backup_reader;")
    password_file = tmp_path / "password"
    password_file.write_text("rd:pw\\x9")
    password_file.chmod(0o440)
    private = tmp_path / "private"
    private.mkdir()
    url = urlparse(postgres.url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update({"BACKUP_DIR": str(backups), "PGHOST": url.hostname, "PGPORT": str(url.port), "TMPDIR": str(private),
                "PGDATABASE": url.path.lstrip("/"), "PGUSER": "backup_reader", "PGPASSWORD_FILE": str(password_file)})
    done = subprocess.run(["sh", "-c", backup_script(14)], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (private / ".pgpass").stat().st_mode & 0o777 == 0o600
    dumps = sorted(p.name for p in backups.glob("loadline-*.dump"))
    assert stale.name not in dumps and recent.name in dumps and len(dumps) == 2
    fresh = next(p for p in backups.glob("loadline-2*.dump"))
    listing = subprocess.run(["pg_restore", "--list", str(fresh)], capture_output=True, text=True, check=True)
    assert "backup_probe" in listing.stdout
    assert not list(backups.glob(".*.partial"))
