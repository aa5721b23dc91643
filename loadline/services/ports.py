"""Free loopback ports."""

from __future__ import annotations

import random
import socket
from pathlib import Path

# An explicit range below the kernel's ephemeral range (where outgoing connections take
# their local port), so a server restarted on its old port never finds it taken.
_LOW, _HIGH = 20000, 30000
_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def ephemeral_low() -> int:
    """The first port the kernel hands to outgoing connections (Linux default 32768)."""
    try:
        return int(_EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(*, also_free_offset: int | None = None) -> int:
    """A TCP port free on 127.0.0.1 now; with `also_free_offset`, port+offset is free too.

    With an offset (Redis Cluster's bus listens on port+10000), port+offset also stays below
    the ephemeral range: a killed node restarted on its port must be able to bind its bus
    port again, which an outgoing connection (the other nodes' gossip, a client) may
    otherwise have taken meanwhile.
    """
    high = _HIGH if also_free_offset is None else min(_HIGH, ephemeral_low() - 1 - also_free_offset)
    if high < _LOW:
        raise OSError(f"no loopback port range left below the ephemeral ports ({ephemeral_low()}) "
                      f"for an offset of {also_free_offset}")
    for _ in range(200):
        port = random.randint(_LOW, high)
        if port_is_free(port) and (also_free_offset is None or port_is_free(port + also_free_offset)):
            return port
    raise OSError(f"no free loopback port found in {_LOW}-{high}")
