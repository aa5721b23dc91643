"""Turning mocked Pulumi inputs back into plain Kubernetes values."""

from __future__ import annotations

from typing import Any

SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
MASK = "<secret: masked by loadline render; the real value lives only in Pulumi state>"


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SECRET_SIG_KEY) == SECRET_SIG


def _mask_leaves(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _mask_leaves(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_leaves(v) for v in value]
    return MASK if isinstance(value, str) else value


def clean(value: Any, *, secret_paths: list[str] | None = None, path: str = "") -> Any:
    """Unwrap secret markers (masking what they hold), turn whole floats into ints.

    Mocked inputs arrive with every number as a float (`replicas: 3.0`) and secrets
    wrapped in a marker dict. Paths of masked values are appended to `secret_paths`.
    """
    if is_secret(value):
        if secret_paths is not None:
            secret_paths.append(path or "(root)")
        return _mask_leaves(clean(value.get("value"), path=path))
    if isinstance(value, dict):
        return {k: clean(v, secret_paths=secret_paths, path=f"{path}.{k}" if path else k)
                for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [clean(v, secret_paths=secret_paths, path=f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def contains_unknown(value: Any) -> bool:
    if value == UNKNOWN:
        return True
    if isinstance(value, dict):
        return any(contains_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(contains_unknown(v) for v in value)
    return False
