"""Free loopback ports."""

from __future__ import annotations

import random
import socket

# Redis Cluster listens on port+10000 for its bus, so cluster ports must stay
# below 55535; an explicit range also keeps clear of the kernel's ephemeral range.
_LOW, _HIGH = 20000, 30000


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(*, also_free_offset: int | None = None) -> int:
    """A TCP port free on 127.0.0.1 now; with `also_free_offset`, port+offset is free too."""
    for _ in range(200):
        port = random.randint(_LOW, _HIGH)
        if port_is_free(port) and (also_free_offset is None or port_is_free(port + also_free_offset)):
            return port
    raise OSError(f"no free loopback port found in {_LOW}-{_HIGH}")
