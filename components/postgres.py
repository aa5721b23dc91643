"""Postgres: PostgreSQL in the cluster (StatefulSet, exporter, backups) or an external database.

Either way the result is one Secret with the connection URL under `url`, which the
API mounts as a file. In-cluster, the password comes from pulumi_random and
lives in Pulumi state: it stays stable across `pulumi up`, so the data volume (which
outlives any Secret) never meets a new password. docs/components.md has the recovery.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components import common, images
from loadline.profile import Profile

PORT = 5432
METRICS_PORT = 9187
METRICS_JOB = "postgres"
DATABASE = "loadline"
USER = "loadline"
PGDATA = "/var/lib/postgresql/data/pgdata"
SECRETS = f"{common.SECRETS_DIR}/postgres"
PASSWORD_FILE = f"{SECRETS}/password"


@dataclass
class PostgresArgs:
    profile: Profile
    """The validated profile; mode, storage, tuning, backups and sizing come from `profile.postgres`."""
    namespace: pulumi.Input[str]
    """Namespace to deploy into (an Output of the Namespace)."""
    external_url: pulumi.Input[str] | None = None
    """External mode only: the connection URL, a secret Output read from a secure config key."""
    extra_labels: dict[str, str] = field(default_factory=dict)
    """Stack-wide labels (`loadline:labels`) added to every object."""


def server_args(profile: Profile) -> list[str]:
    """`postgres -c key=value` flags from the profile's tuning."""
    t = profile.postgres.tuning
    assert t is not None
    settings = {
        "max_connections": str(t.max_connections),
        "shared_buffers": t.shared_buffers,
        "effective_cache_size": t.effective_cache_size,
        "work_mem": t.work_mem,
        "listen_addresses": "*",
    }
    out: list[str] = []
    for key, value in settings.items():
        out += ["-c", f"{key}={value}"]
    return out


def backup_script(retention_days: int) -> str:
    """pg_dump into $BACKUP_DIR (default /backups), then drop dumps older than the retention.

    The password comes from the file $PGPASSWORD_FILE names: it is copied into a private
    pgpass file (libpq refuses one that its group can read), so it never enters an
    environment variable. The dump is written under a temporary name first, so a failed
    dump never counts as a backup and never pushes a good one out of the retention window.
    """
    return (
        "set -eu\n"
        'if [ -n "${PGPASSWORD_FILE:-}" ]; then\n'
        '  export PGPASSFILE="${TMPDIR:-/tmp}/.pgpass"\n'
        "  (umask 077; printf '*:*:*:*:%s\\n' \"$(sed 's/[\\\\:]/\\\\&/g' \"$PGPASSWORD_FILE\")\" > \"$PGPASSFILE\")\n"
        'fi\n'
        'dir="${BACKUP_DIR:-/backups}"\n'
        'stamp=$(date -u +%Y%m%dT%H%M%SZ)\n'
        'pg_dump --format=custom --no-password --file="$dir/.loadline-$stamp.partial"\n'
        'mv "$dir/.loadline-$stamp.partial" "$dir/loadline-$stamp.dump"\n'
        f'find "$dir" -maxdepth 1 -name "loadline-*.dump" -mtime +{retention_days - 1} -print -delete\n'
        'ls -l "$dir"\n'
    )


def _password_volume(secret: k8s.core.v1.Secret) -> dict[str, Any]:
    return common.secret_volume("password", secret.metadata.name, {"password": "password"})


class Postgres(common.Workload):
    """The API's database."""

    secret_name: pulumi.Output[str]
    host: pulumi.Output[str]
    metrics_targets: pulumi.Output[list[str]]

    def __init__(self, name: str, args: PostgresArgs, opts: pulumi.ResourceOptions | None = None):
        p = args.profile
        version = images.version(images.POSTGRES) if p.postgres.mode == "inCluster" else None
        super().__init__("loadline:postgres:Postgres", name, args, instance=p.namespace, component="postgres",
                         version=version, extra=args.extra_labels, opts=opts)
        self._headless = f"{name}-headless"

        if p.postgres.mode == "external":
            secret = self._external_secret()
            host = "external"
            targets: list[str] = []
        else:
            host = common.dns(name, p.namespace)
            secret = self._secret(self._password(), host)
            self._services()
            self._statefulset(secret)
            self._backups(secret, host)
            self._network_policy_object()
            targets = [common.dns(self._headless, p.namespace, pod=f"{name}-0", port=METRICS_PORT)]

        self.secret_name = secret.metadata.name
        self.host = pulumi.Output.from_input(host)
        self.metrics_targets = pulumi.Output.from_input(targets)
        self.register_outputs({"secret_name": self.secret_name, "host": self.host,
                               "metrics_targets": self.metrics_targets})

    def _external_secret(self) -> k8s.core.v1.Secret:
        if self._args.external_url is None:
            raise ValueError("external mode needs external_url (a secret from the stack's config)")
        return k8s.core.v1.Secret(
            f"{self._name}-secret",
            metadata=common.metadata(self._name, self._ns, self._lbl),
            type="Opaque",
            string_data={"url": pulumi.Output.secret(self._args.external_url)},
            opts=self._child,
        )

    def _password(self) -> random.RandomPassword:
        return random.RandomPassword(
            f"{self._name}-password", length=32, special=False,
            # Never regenerate: the data directory keeps the first password forever.
            opts=pulumi.ResourceOptions(parent=self, protect=self._args.profile.environment == "prod"),
        )

    def _secret(self, password: random.RandomPassword, host: str) -> k8s.core.v1.Secret:
        url = pulumi.Output.concat("postgresql://", USER, ":", password.result, "@", host, ":", str(PORT), "/", DATABASE)
        secret_url: pulumi.Output[str] = pulumi.Output.secret(url)
        return k8s.core.v1.Secret(
            f"{self._name}-secret",
            metadata=common.metadata(self._name, self._ns, self._lbl),
            type="Opaque",
            string_data={
                "username": USER,
                "database": DATABASE,
                "password": password.result,
                "url": secret_url,
            },
            opts=self._child,
        )

    def _services(self) -> None:
        name, ns, sel = self._name, self._ns, self._sel
        k8s.core.v1.Service(
            f"{name}-headless",
            metadata=common.metadata(self._headless, ns, {**self._lbl, "loadline.dev/job": METRICS_JOB}),
            spec=common.service_spec(sel, ("postgres", PORT), ("metrics", METRICS_PORT), headless=True),
            opts=self._child,
        )
        k8s.core.v1.Service(
            f"{name}-svc",
            metadata=common.metadata(name, ns, self._lbl),
            spec=common.service_spec(sel, ("postgres", PORT)),
            opts=self._child,
        )

    def _data_volumes(self, secret: k8s.core.v1.Secret) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(pod volumes, volumeClaimTemplates): a claim per pod when storage is on, else an emptyDir."""
        storage = self._args.profile.postgres.storage
        assert storage is not None
        volumes: list[dict[str, Any]] = [common.tmp_volume(), common.tmp_volume("run", "16Mi"),
                                         _password_volume(secret)]
        if not storage.enabled:
            return [*volumes, {"name": "data", "emptyDir": {}}], []
        return volumes, [{"metadata": {"name": "data", "labels": self._lbl}, "spec": self._claim_spec()}]

    def _claim_spec(self) -> dict[str, Any]:
        storage = self._args.profile.postgres.storage
        assert storage is not None
        spec: dict[str, Any] = {"accessModes": ["ReadWriteOnce"],
                                "resources": {"requests": {"storage": storage.size}}}
        if storage.storage_class:
            spec["storageClassName"] = storage.storage_class
        return spec

    def _statefulset(self, secret: k8s.core.v1.Secret) -> None:
        volumes, claims = self._data_volumes(secret)
        k8s.apps.v1.StatefulSet(
            f"{self._name}-statefulset",
            metadata=common.metadata(self._name, self._ns, self._lbl,
                                     common.workload_annotations(self._args.profile)),
            spec={
                "serviceName": self._headless,
                # One primary: PostgreSQL has no multi-writer mode to spread.
                "replicas": 1,
                "selector": {"matchLabels": self._sel},
                "updateStrategy": {"type": "RollingUpdate"},
                "template": {
                    "metadata": {"labels": self._lbl},
                    "spec": {
                        "automountServiceAccountToken": False,
                        "securityContext": common.pod_security(images.POSTGRES_UID, fs_group=images.POSTGRES_UID),
                        "terminationGracePeriodSeconds": 60,
                        "containers": [self._server_container(), self._exporter_container()],
                        "volumes": volumes,
                    },
                },
                **({"volumeClaimTemplates": claims} if claims else {}),
            },
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[secret],
                custom_timeouts=pulumi.CustomTimeouts(create="15m", update="15m"),
            ),
        )

    def _server_container(self) -> dict[str, Any]:
        pg = self._args.profile.postgres
        assert pg.resources is not None
        ready = ["pg_isready", "-h", "127.0.0.1", "-p", str(PORT), "-U", USER, "-d", DATABASE]
        return {
            "name": "postgres",
            "image": images.ref("postgres", self._args.profile),
            "args": server_args(self._args.profile),
            "env": [
                {"name": "POSTGRES_USER", "value": USER},
                {"name": "POSTGRES_DB", "value": DATABASE},
                {"name": "POSTGRES_PASSWORD_FILE", "value": PASSWORD_FILE},
                {"name": "PGDATA", "value": PGDATA},
            ],
            "ports": [{"name": "postgres", "containerPort": PORT, "protocol": "TCP"}],
            "resources": common.resources(pg.resources),
            "securityContext": common.container_security(images.POSTGRES_UID),
            "livenessProbe": common.exec_probe(ready, period=10, failures=6, delay=30),
            "readinessProbe": common.exec_probe(ready, period=5, failures=3, delay=5),
            "volumeMounts": [
                {"name": "data", "mountPath": "/var/lib/postgresql/data"},
                {"name": "run", "mountPath": "/var/run/postgresql"},
                {"name": "tmp", "mountPath": "/tmp"},
                common.secret_mount("password", SECRETS),
            ],
        }

    def _exporter_container(self) -> dict[str, Any]:
        return {
            "name": "exporter",
            "image": images.ref("postgresExporter", self._args.profile),
            "env": [
                {"name": "DATA_SOURCE_URI", "value": f"127.0.0.1:{PORT}/{DATABASE}?sslmode=disable"},
                {"name": "DATA_SOURCE_USER", "value": USER},
                {"name": "DATA_SOURCE_PASS_FILE", "value": PASSWORD_FILE},
            ],
            "volumeMounts": [common.secret_mount("password", SECRETS)],
            "ports": [{"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"}],
            "resources": common.small_resources(),
            "securityContext": common.container_security(images.POSTGRES_EXPORTER_UID),
            "livenessProbe": common.http_probe("/", "metrics"),
            "readinessProbe": common.http_probe("/", "metrics"),
        }

    def _backups(self, secret: k8s.core.v1.Secret, host: str) -> None:
        backups = f"{self._name}-backups"
        backup_lbl = {**self._lbl, "app.kubernetes.io/name": backups}
        # With WaitForFirstConsumer storage the claim binds only when the first backup
        # runs, hours later: Pulumi must not wait for it.
        claim = k8s.core.v1.PersistentVolumeClaim(
            f"{self._name}-backups-pvc",
            metadata=common.metadata(backups, self._ns, backup_lbl, {"pulumi.com/skipAwait": "true"}),
            spec=self._claim_spec(),
            opts=self._child,
        )
        backup = self._args.profile.postgres.backup
        assert backup is not None
        k8s.batch.v1.CronJob(
            f"{self._name}-backup",
            metadata=common.metadata(backups, self._ns, backup_lbl, common.workload_annotations(self._args.profile)),
            spec={
                "schedule": backup.schedule,
                "concurrencyPolicy": "Forbid",
                "successfulJobsHistoryLimit": 3,
                "failedJobsHistoryLimit": 3,
                "jobTemplate": {"spec": {
                    "backoffLimit": 2,
                    "activeDeadlineSeconds": 3600,
                    "template": {
                        "metadata": {"labels": backup_lbl},
                        "spec": self._backup_pod(secret, host, claim, backup.retention_days,
                                                 images.ref("postgres", self._args.profile)),
                    },
                }},
            },
            opts=self._child,
        )

    @staticmethod
    def _backup_pod(secret: k8s.core.v1.Secret, host: str, claim: k8s.core.v1.PersistentVolumeClaim,
                    retention_days: int, image: str) -> dict[str, Any]:
        return {
            "automountServiceAccountToken": False,
            "restartPolicy": "OnFailure",
            "securityContext": common.pod_security(images.POSTGRES_UID, fs_group=images.POSTGRES_UID),
            "containers": [{
                "name": "pg-dump",
                "image": image,
                "command": ["sh", "-c", backup_script(retention_days)],
                "env": [
                    {"name": "PGHOST", "value": host},
                    {"name": "PGPORT", "value": str(PORT)},
                    {"name": "PGDATABASE", "value": DATABASE},
                    {"name": "PGUSER", "value": USER},
                    {"name": "PGPASSWORD_FILE", "value": PASSWORD_FILE},
                ],
                "resources": common.small_resources("100m", "128Mi", "500m", "512Mi"),
                "securityContext": common.container_security(images.POSTGRES_UID),
                "volumeMounts": [{"name": "backups", "mountPath": "/backups"},
                                 {"name": "tmp", "mountPath": "/tmp"},
                                 common.secret_mount("password", SECRETS)],
            }],
            "volumes": [{"name": "backups", "persistentVolumeClaim": {"claimName": claim.metadata.name}},
                        common.tmp_volume(), _password_volume(secret)],
        }

    def _network_policy_object(self) -> None:
        k8s.networking.v1.NetworkPolicy(
            f"{self._name}-netpol",
            metadata=common.metadata(self._name, self._ns, self._lbl),
            spec=self._network_policy(self._args.profile),
            opts=self._child,
        )

    @staticmethod
    def _network_policy(p: Profile) -> dict[str, Any]:
        def pods(component: str) -> dict[str, Any]:
            return {"podSelector": {"matchLabels": {"app.kubernetes.io/component": component,
                                                    "app.kubernetes.io/instance": p.namespace}}}

        return {
            # The server and the backup CronJob's pods both carry component=postgres.
            "podSelector": {"matchLabels": {"app.kubernetes.io/component": "postgres",
                                            "app.kubernetes.io/instance": p.namespace}},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [
                {"from": [pods("api"), pods("postgres")], "ports": [{"protocol": "TCP", "port": PORT}]},
                {"from": [pods("monitoring")], "ports": [{"protocol": "TCP", "port": METRICS_PORT}]},
            ],
            "egress": [{"to": [pods("postgres")], "ports": [{"protocol": "TCP", "port": PORT}]}],
        }
