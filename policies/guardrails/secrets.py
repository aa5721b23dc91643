"""Secrets stay secret: env vars take them by reference, Secrets are never built from clear text.

How "built from a clear-text config value" is told apart:

* Offline (`loadline check`), values arrive as the render leaves them: a value Pulumi holds
  as a secret is masked (or still wrapped in Pulumi's secret marker). A Secret value that is
  neither masked nor marked was clear text in the program or the manifest file.
* Under the Pulumi policy SDK, validations receive unwrapped values (secret-ness is not
  passed to them), so the pack compares each Secret value with the stack's clear-text config
  values instead: a match means the Secret was built from `config.get(...)` rather than
  `config.require_secret(...)` or a generated value. The offline check runs the same
  comparison too.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any

from policies.guardrails import k8s
from policies.guardrails.model import UNKNOWN, Context, Obj, PolicySpec

PULUMI_SIG_KEY = "4dabf18193072939515e22adb298388d"
PULUMI_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"

# Words that mark an environment variable as carrying a credential.
_SECRET_WORDS = frozenset({"PASSWORD", "PASSWD", "PWD", "PASS", "SECRET", "SECRETS", "TOKEN",
                           "TOKENS", "CREDENTIAL", "CREDENTIALS", "APIKEY", "APIKEYS",
                           "PRIVATEKEY", "DSN"})
_SECRET_PAIRS = frozenset({("API", "KEY"), ("API", "KEYS"), ("PRIVATE", "KEY"), ("ACCESS", "KEY"),
                           ("SECRET", "KEY"), ("AUTH", "KEY"), ("SIGNING", "KEY")})
_URL_WITH_PASSWORD = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://[^/@:\s]*:[^/@\s]+@")

# How `loadline render` (`<secret: masked ...>`) and other tools print a value held as a secret.
MASKED_VALUES = frozenset({"[secret]", "[masked]", "<secret>", "(secret)"})
_MASK = re.compile(r"^\*{3,}$")


def secret_looking(env_name: str) -> bool:
    words = [w for w in re.split(r"[^A-Za-z0-9]+", env_name.upper()) if w]
    if any(w in _SECRET_WORDS for w in words):
        return True
    return any(pair in _SECRET_PAIRS for pair in zip(words, words[1:], strict=False))


def is_file_reference(env_name: str, value: Any) -> bool:
    """`X_FILE=/path`: the `_FILE` convention names where the secret is mounted, not the secret."""
    return (env_name.upper().endswith("_FILE") and isinstance(value, str)
            and value.startswith("/") and not any(ch.isspace() for ch in value))


def env_secret_refs(obj: Obj, ctx: Context) -> list[str]:
    tpl = k8s.pod_template(obj)
    if not tpl:
        return []
    out = []
    for label, c in k8s.containers(tpl[1]):
        for env in k8s.as_list(c.get("env")):
            env = k8s.as_dict(env)
            var = str(env.get("name", "?"))
            if "value" not in env or env.get("value") in (None, ""):
                continue
            value = env["value"]
            if is_file_reference(var, value):
                continue
            if secret_looking(var):
                out.append(f"{label} env {var} holds a plain value; it looks like a credential")
            elif isinstance(value, str) and _URL_WITH_PASSWORD.match(value):
                out.append(f"{label} env {var} holds a URL with an embedded password")
    return out


def is_marked_secret(value: Any) -> bool:
    """A value Pulumi holds as a secret, or one the render masked."""
    if value is UNKNOWN:
        return True  # computed at deploy time (e.g. a generated password), not from config
    if isinstance(value, Mapping) and value.get(PULUMI_SIG_KEY) == PULUMI_SECRET_SIG:
        return True
    if type(value).__name__ == "Secret" and type(value).__module__.startswith("pulumi_policy"):
        return True
    if not isinstance(value, str):
        return False
    text = value.strip()
    return text in MASKED_VALUES or bool(_MASK.match(text)) or (text.startswith("<secret") and text.endswith(">"))


def _decoded(value: str) -> str | None:
    try:
        return base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def secret_not_clear_text(obj: Obj, ctx: Context) -> list[str]:
    out = []
    for field_name, encoded in (("stringData", False), ("data", True)):
        for key, value in k8s.as_dict(obj.get(field_name)).items():
            if is_marked_secret(value):
                continue
            plain = _decoded(value) if encoded and isinstance(value, str) else value
            if isinstance(plain, str) and plain in ctx.clear_text_config:
                out.append(f"{field_name}.{key} equals the clear-text stack config value "
                           f"'{ctx.clear_text_config[plain]}'")
            elif ctx.secrets_marked:
                out.append(f"{field_name}.{key} holds a clear-text value (not a Pulumi secret)")
    return out


# A Secret mounted as files may be readable by its owner (0400) or also its group (0440,
# the group being the pod's fsGroup, how a non-root container reads a root-owned file).
SECRET_FILE_MODES = frozenset({0o400, 0o440})
DEFAULT_SECRET_MODE = 0o644  # the API server's default for secret volumes


def _mode_problem(mode: Any, where: str) -> str | None:
    if isinstance(mode, bool) or not isinstance(mode, (int, float)) or int(mode) != mode:
        return f"{where} has mode {mode!r}, not a number"
    if int(mode) not in SECRET_FILE_MODES:
        return f"{where} has mode {int(mode):04o}; use 0400 or 0440"
    return None


def _secret_volumes(pod: Mapping[str, Any]) -> list[tuple[str, str, list[str]]]:
    """(volume name, Secret name, mode problems) for each volume that carries a Secret."""
    out = []
    for vol in k8s.as_list(pod.get("volumes")):
        vol = k8s.as_dict(vol)
        vname = str(vol.get("name", "?"))
        sources: list[tuple[Mapping[str, Any], Any]] = []
        if isinstance(vol.get("secret"), Mapping):
            secret = vol["secret"]
            sources.append((secret, secret.get("defaultMode", DEFAULT_SECRET_MODE)))
        projected = k8s.as_dict(vol.get("projected"))
        for src in k8s.as_list(projected.get("sources")):
            secret = k8s.get(src, "secret")
            if isinstance(secret, Mapping):
                sources.append((secret, projected.get("defaultMode", DEFAULT_SECRET_MODE)))
        for secret, default_mode in sources:
            sname = str(secret.get("secretName") or secret.get("name") or "?")
            problems = [_mode_problem(default_mode, f"volume {vname} (Secret {sname})")]
            problems += [_mode_problem(item["mode"], f"volume {vname} item {k8s.as_dict(item).get('path', '?')}")
                         for item in k8s.as_list(secret.get("items")) if "mode" in k8s.as_dict(item)]
            out.append((vname, sname, [p for p in problems if p]))
    return out


def secrets_as_files(obj: Obj, ctx: Context) -> list[str]:
    tpl = k8s.pod_template(obj)
    if not tpl:
        return []
    out = []
    volumes = _secret_volumes(tpl[1])
    for _, _, problems in volumes:
        out.extend(problems)
    secret_volume_names = {v for v, _, _ in volumes}
    for label, c in k8s.containers(tpl[1]):
        for env in k8s.as_list(c.get("env")):
            ref = k8s.get(env, "valueFrom", "secretKeyRef")
            if isinstance(ref, Mapping):
                out.append(f"{label} env {k8s.as_dict(env).get('name', '?')} takes key "
                           f"{ref.get('key', '?')} of Secret {ref.get('name', '?')} as an environment variable")
        for source in k8s.as_list(c.get("envFrom")):
            ref = k8s.get(source, "secretRef")
            if isinstance(ref, Mapping):
                out.append(f"{label} envFrom loads every key of Secret {ref.get('name', '?')} "
                           "into environment variables")
        for mount in k8s.as_list(c.get("volumeMounts")):
            mount = k8s.as_dict(mount)
            if mount.get("name") in secret_volume_names and mount.get("readOnly") is not True:
                out.append(f"{label} mounts secret volume {mount.get('name')} at "
                           f"{mount.get('mountPath', '?')} without readOnly: true")
    return out


POLICIES = [
    PolicySpec(
        name="env-secret-refs",
        description="No secret-looking environment variable holds a plain value.",
        hint="move the value into a Secret and reference it with env[].valueFrom.secretKeyRef",
        scope="resource", check=env_secret_refs, kinds=k8s.POD_KINDS),
    PolicySpec(
        name="secret-not-clear-text",
        description="No Secret is built from a clear-text config value.",
        hint="read the value with config.require_secret (set it with `pulumi config set --secret`) "
             "or generate it with pulumi_random, so it stays encrypted in state and masked in renders",
        scope="resource", check=secret_not_clear_text, kinds=frozenset({"Secret"})),
    PolicySpec(
        name="secrets-as-files",
        description="Secrets reach containers as read-only files (mode 0400 or 0440), never as "
                    "environment variables (valueFrom.secretKeyRef or envFrom.secretRef).",
        hint="mount the Secret as a volume (secret.defaultMode: 0440 with the pod's fsGroup, or 0400), "
             "readOnly: true, and point the program at the file (the _FILE convention: "
             "POSTGRES_PASSWORD_FILE, GF_SECURITY_ADMIN_PASSWORD__FILE, EVENTS_DATABASE_URL_FILE)",
        scope="resource", check=secrets_as_files, kinds=k8s.POD_KINDS),
]
