"""Pod and secret hardening: secrets as files, high uid/gid, no idle service account token, image digests."""

import copy
import json
from pathlib import Path

import pytest
import yaml
from policy_builders import DIGEST, clean_stack, container, deployment
from typer.testing import CliRunner

from loadline.cli import app
from policies.guardrails import BY_NAME, Context, Level, evaluate
from policies.guardrails.exemptions import annotation
from policies.guardrails.images import image_digests
from policies.guardrails.secrets import env_secret_refs, secrets_as_files
from policies.guardrails.workloads import high_uid_gid, service_account_token

PACK_CONFIG = Path(__file__).resolve().parents[2] / "policies" / "config"
PROD = Context(environment="prod")


def _pod(obj):
    return obj["spec"]["template"]["spec"]


def _with_secret_volume(mode=0o440, read_only=True, **secret_extra):
    web = deployment()
    _pod(web)["volumes"] = [{"name": "creds", "secret": {"secretName": "web-creds", "defaultMode": mode,
                                                         **secret_extra}}]
    _pod(web)["containers"][0]["volumeMounts"] = [{"name": "creds", "mountPath": "/run/secrets/web",
                                                   "readOnly": read_only}]
    _pod(web)["containers"][0]["env"] = [{"name": "DB_PASSWORD_FILE", "value": "/run/secrets/web/password"}]
    return web


# secrets-as-files

@pytest.mark.parametrize("mode", [0o400, 0o440])
def test_secret_mounted_read_only_with_a_private_mode_passes(mode):
    web = _with_secret_volume(mode)
    assert secrets_as_files(web, PROD) == []
    # The _FILE variable holds a path, not the secret, so it is no credential in an env var either.
    assert env_secret_refs(web, PROD) == []


def test_secret_in_an_env_var_fails_naming_variable_key_and_secret():
    web = deployment(containers=[container(env=[
        {"name": "DB_URL", "valueFrom": {"secretKeyRef": {"name": "db", "key": "url"}}}])])
    assert secrets_as_files(web, PROD) == [
        "container web env DB_URL takes key url of Secret db as an environment variable"]


def test_env_from_a_secret_fails():
    web = deployment(containers=[container(envFrom=[{"secretRef": {"name": "all-creds"}}])])
    assert secrets_as_files(web, PROD) == [
        "container web envFrom loads every key of Secret all-creds into environment variables"]


@pytest.mark.parametrize("mode, expected", [(0o644, "mode 0644"), (0o444, "mode 0444"), (None, "mode 0644")])
def test_secret_volume_with_a_wide_mode_fails(mode, expected):
    web = _with_secret_volume(mode)
    if mode is None:
        del _pod(web)["volumes"][0]["secret"]["defaultMode"]  # the API server's default is 0644
    (msg,) = secrets_as_files(web, PROD)
    assert "volume creds (Secret web-creds)" in msg and expected in msg


def test_secret_item_mode_and_projected_secrets_are_judged_too():
    web = _with_secret_volume(0o440, items=[{"key": "password", "path": "password", "mode": 0o666}])
    assert any("item password has mode 0666" in m for m in secrets_as_files(web, PROD))
    proj = deployment()
    _pod(proj)["volumes"] = [{"name": "p", "projected": {"sources": [{"secret": {"name": "s"}}]}}]
    assert secrets_as_files(proj, PROD) == ["volume p (Secret s) has mode 0644; use 0400 or 0440"]


def test_writable_secret_mount_fails():
    (msg,) = secrets_as_files(_with_secret_volume(read_only=False), PROD)
    assert msg == "container web mounts secret volume creds at /run/secrets/web without readOnly: true"


def test_file_convention_does_not_excuse_a_value():
    web = deployment(containers=[container(env=[{"name": "DB_PASSWORD_FILE", "value": "hunter2"}])])
    assert env_secret_refs(web, PROD)


# high-uid-gid

def test_high_ids_pass():
    assert high_uid_gid(deployment(), PROD) == []


@pytest.mark.parametrize("where, key, value, expected", [
    ("container", "runAsUser", 999, "runs with uid 999 (runAsUser)"),
    ("container", "runAsGroup", 472, "runs with gid 472 (runAsGroup)"),
    ("pod", "fsGroup", 999, "pod fsGroup 999 is below 10000"),
    ("pod", "supplementalGroups", [10001, 4], "pod supplementalGroups [4] are below 10000"),
])
def test_low_ids_fail(where, key, value, expected):
    web = deployment()
    ctx = _pod(web)["securityContext"] if where == "pod" else _pod(web)["containers"][0]["securityContext"]
    ctx[key] = value
    msgs = high_uid_gid(web, PROD)
    assert len(msgs) == 1 and expected in msgs[0]


def test_missing_ids_fail_because_the_image_would_pick_them():
    web = deployment()
    del _pod(web)["securityContext"]["runAsGroup"]
    del _pod(web)["containers"][0]["securityContext"]["runAsGroup"]
    del _pod(web)["securityContext"]["fsGroup"]
    msgs = high_uid_gid(web, PROD)
    assert "container web sets no runAsGroup, so the image picks its gid" in msgs
    assert any(m.startswith("pod sets no securityContext.fsGroup") for m in msgs)


def test_container_id_overrides_the_pod_id():
    web = deployment()
    _pod(web)["securityContext"]["runAsUser"] = 999
    assert high_uid_gid(web, PROD) == []  # the container's 10001 wins, as in the kubelet


# service-account-token

def test_pod_without_a_token_passes():
    assert service_account_token(deployment(), PROD) == []


def test_default_token_fails():
    web = deployment()
    del _pod(web)["automountServiceAccountToken"]
    assert service_account_token(web, PROD) == [
        "pod mounts the token of the namespace's default ServiceAccount (automountServiceAccountToken is not false)"]


def test_own_service_account_token_fails_until_exempted_with_a_reason():
    web = deployment(annotations={annotation("service-account-token"): "lists pods for its metrics"})
    _pod(web)["automountServiceAccountToken"] = True
    _pod(web)["serviceAccountName"] = "web-reader"
    assert service_account_token(web, PROD) == [
        "pod mounts the token of ServiceAccount web-reader (automountServiceAccountToken is not false)"]
    findings = [f for f in evaluate([web], PROD, [BY_NAME["service-account-token"]])]
    assert [(f.exempted, f.exempt_reason) for f in findings] == [(True, "lists pods for its metrics")]


# image-digests

def test_digest_pinned_image_passes():
    web = deployment(containers=[container(image=f"redis:7.2.5@{DIGEST}")])
    assert image_digests(web, PROD) == []


@pytest.mark.parametrize("ref, expected", [
    ("redis:7.2.5", "pinned by tag only"),
    ("redis:7.2.5@sha256:abc", "malformed digest"),
])
def test_tag_only_or_malformed_digest_fails(ref, expected):
    (msg,) = image_digests(deployment(containers=[container(image=ref)]), PROD)
    assert expected in msg and ref in msg


@pytest.mark.parametrize("environment, pack_level, expected", [
    ("prod", None, Level.MANDATORY),
    ("staging", None, Level.ADVISORY),
    ("dev", None, Level.ADVISORY),
    ("review", Level.MANDATORY, Level.ADVISORY),
    ("prod", Level.ADVISORY, Level.ADVISORY),
])
def test_digests_are_mandatory_in_prod_only(environment, pack_level, expected):
    web = deployment(containers=[container(image="redis:7.2.5")])
    findings = evaluate([web], Context(environment=environment), [BY_NAME["image-digests"]], pack_level)
    assert [f.level for f in findings] == [expected]


def test_every_pack_config_keeps_digests_advisory_outside_prod():
    for path in PACK_CONFIG.glob("*.json"):
        config = json.loads(path.read_text())
        if path.stem != "prod" and config["all"] == "mandatory":
            assert config.get("image-digests") == "advisory", path.name


def test_pulumi_pack_lowers_digests_outside_prod(monkeypatch):
    from policies.guardrails import pulumi_adapters

    profile = yaml.safe_load((Path(__file__).resolve().parents[2] / "stacks" / "Pulumi.staging.yaml").read_text())
    for stack, expected in (("staging", "advisory"), ("prod", None)):
        raw = copy.deepcopy(profile["config"]["loadline:profile"])
        raw["environment"] = stack
        monkeypatch.setattr(pulumi_adapters, "_env_config",
                            lambda raw=raw: ({"loadline:profile": json.dumps(raw)}, []))
        level = pulumi_adapters.policy_enforcement(BY_NAME["image-digests"])
        assert (level.value if level else None) == expected
        assert pulumi_adapters.policy_enforcement(BY_NAME["images-pinned"]) is None


# loadline check --manifests on plain YAML

PLANTED = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      securityContext: {runAsNonRoot: true, runAsUser: 999, runAsGroup: 999, fsGroup: 999}
      containers:
        - name: api
          image: ghcr.io/acme/api:1.4.0
          env:
            - name: DATABASE_URL
              valueFrom: {secretKeyRef: {name: api-db, key: url}}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {drop: [ALL]}
          resources: {requests: {cpu: 100m, memory: 64Mi}, limits: {cpu: 200m, memory: 128Mi}}
          livenessProbe: {httpGet: {path: /healthz, port: 8000}}
          readinessProbe: {httpGet: {path: /readyz, port: 8000}}
"""


def test_check_manifests_catches_each_planted_finding(tmp_path):
    (tmp_path / "api.yaml").write_text(PLANTED)
    result = CliRunner().invoke(app, ["check", "--manifests", str(tmp_path), "--json"])
    assert result.exit_code == 1, result.output
    found = {(f["policy"], f["level"]) for f in json.loads(result.output)["findings"]
             if f["resource"] == "Deployment shop/api"}
    for policy in ("secrets-as-files", "high-uid-gid", "service-account-token", "image-digests"):
        assert (policy, "mandatory") in found, policy


def test_check_manifests_passes_the_hardened_twin(tmp_path):
    (tmp_path / "all.yaml").write_text(yaml.safe_dump_all(clean_stack(), sort_keys=False))
    result = CliRunner().invoke(app, ["check", "--manifests", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "summary: PASS: 0 mandatory violations, 0 advisory violations, 0 exempted" in result.output


@pytest.mark.parametrize("mode, problem", [
    (0o400, None), (0o440, None), (256.0, None),
    (0o444, "has mode 0444; use 0400 or 0440"), (0o4400, "has mode 4400; use 0400 or 0440"),
    (256.5, "has mode 256.5, not a number"), ("0400", "has mode '0400', not a number"),
    (True, "has mode True, not a number")])
def test_a_secret_file_mode_is_a_whole_number_that_only_the_owner_and_group_read(mode, problem):
    found = secrets_as_files(_with_secret_volume(mode), PROD)
    assert found == ([] if problem is None else [f"volume creds (Secret web-creds) {problem}"])


def test_every_secret_source_of_a_volume_is_named_and_judged():
    web = deployment()
    _pod(web)["volumes"] = [
        {"name": "plain", "emptyDir": {}},
        {"name": "both", "secret": {"name": "by-name", "defaultMode": 0o400},
         "projected": {"defaultMode": 0o444, "sources": [{"configMap": {"name": "c"}}, {"secret": {"name": "p1"}},
                                                           {"secret": {}}]}},
        {"secret": {"secretName": "s", "defaultMode": 0o400,
                    "items": [{"key": "a", "path": "a", "mode": 0o600}, {"key": "b", "mode": 0o400},
                              {"key": "c"}]}},
    ]
    assert secrets_as_files(web, PROD) == [
        "volume both (Secret p1) has mode 0444; use 0400 or 0440",
        "volume both (Secret ?) has mode 0444; use 0400 or 0440",
        "volume ? item a has mode 0600; use 0400 or 0440",
    ]


def test_only_mounts_of_secret_volumes_must_be_read_only():
    web = _with_secret_volume()
    _pod(web)["volumes"].append({"name": "scratch", "emptyDir": {}})
    _pod(web)["containers"][0]["volumeMounts"] += [{"name": "scratch", "mountPath": "/tmp"},
                                                   {"name": "creds", "mountPath": "/again", "readOnly": "true"},
                                                   {"name": "creds"}]
    assert secrets_as_files(web, PROD) == [
        "container web mounts secret volume creds at /again without readOnly: true",
        "container web mounts secret volume creds at ? without readOnly: true"]


def test_secret_references_without_names_are_still_reported():
    web = deployment(containers=[container(env=[{"valueFrom": {"secretKeyRef": {}}},
                                                {"name": "CM", "valueFrom": {"configMapKeyRef": {"name": "c"}}}],
                                           envFrom=[{"secretRef": {}}, {"configMapRef": {"name": "c"}}])])
    assert secrets_as_files(web, PROD) == [
        "container web env ? takes key ? of Secret ? as an environment variable",
        "container web envFrom loads every key of Secret ? into environment variables"]


def test_objects_without_pods_have_no_secret_files_to_judge():
    assert secrets_as_files({"kind": "ConfigMap", "metadata": {"name": "c"}}, PROD) == []
    assert env_secret_refs({"kind": "ConfigMap", "metadata": {"name": "c"}}, PROD) == []


@pytest.mark.parametrize("spec, account", [
    ({"serviceAccount": "legacy"}, "legacy"), ({"serviceAccountName": "", "serviceAccount": "legacy"}, "legacy"),
    ({"serviceAccountName": "web", "serviceAccount": "legacy"}, "web"),
    ({"serviceAccountName": ""}, None), ({"serviceAccountName": "default"}, None), ({"serviceAccount": "default"}, None),
    ({"automountServiceAccountToken": "false", "serviceAccountName": "web"}, "web")])
def test_the_mounted_token_names_its_service_account_old_field_included(spec, account):
    web = deployment()
    del _pod(web)["automountServiceAccountToken"]
    _pod(web).update(spec)
    expected = (f"pod mounts the token of ServiceAccount {account}" if account
                else "pod mounts the token of the namespace's default ServiceAccount")
    assert service_account_token(web, PROD) == [f"{expected} (automountServiceAccountToken is not false)"]


def test_ids_from_ten_thousand_up_are_high_enough():
    web = deployment()
    _pod(web)["containers"][0]["securityContext"].update(runAsUser=10000, runAsGroup=10000)
    _pod(web)["securityContext"].update(fsGroup=10000)
    assert high_uid_gid(web, PROD) == []
    _pod(web)["containers"][0]["securityContext"]["runAsUser"] = 9999
    assert len(high_uid_gid(web, PROD)) == 1


@pytest.mark.parametrize("mode, shown", [(None, "None"), ("abc", "'abc'")])
def test_a_mode_that_is_no_number_at_all_is_named(mode, shown):
    web = _with_secret_volume(0o400, items=[{"key": "a", "mode": mode}])
    _pod(web)["volumes"][0]["secret"]["defaultMode"] = mode
    assert secrets_as_files(web, PROD) == [f"volume creds (Secret web-creds) has mode {shown}, not a number",
                                           f"volume creds item ? has mode {shown}, not a number"]
