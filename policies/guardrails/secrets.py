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
from typing import Any, Mapping

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
    return any(pair in _SECRET_PAIRS for pair in zip(words, words[1:]))


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
]
