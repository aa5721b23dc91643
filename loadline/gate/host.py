"""Where the gate may send load, and whether anything answers there."""

from __future__ import annotations

import ipaddress
import time
from urllib.parse import urlsplit

import requests


class HostError(Exception):
    """The host is refused or unreachable; the gate cannot run (exit 2)."""


def is_loopback(hostname: str) -> bool:
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def check_host(url: str, *, allow_remote: bool = False, wait_s: float = 5.0) -> str:
    """Validate `url`, refuse non-loopback hosts unless allowed, wait for `/readyz`.

    Returns the URL without a trailing slash.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HostError(f"--host: '{url}' is not an http(s) URL like http://127.0.0.1:8000")
    if not allow_remote and not is_loopback(parts.hostname):
        raise HostError(
            f"--host: '{parts.hostname}' is not a loopback address; load is only sent to "
            "127.0.0.1/localhost unless --allow-remote says you target a real environment")
    base = url.rstrip("/")
    deadline = time.monotonic() + wait_s
    last = ""
    while True:
        try:
            resp = requests.get(f"{base}/readyz", timeout=2)
            if resp.status_code == 200:
                return base
            last = f"/readyz answered {resp.status_code}"
        except requests.RequestException as exc:
            last = f"{type(exc).__name__}: {exc}"
        if time.monotonic() >= deadline:
            raise HostError(f"--host: {base} is unreachable or not ready ({last})")
        time.sleep(0.5)
