"""Free TCP ports on the loopback interface, for servers the tests and the demo start.

A port handed out by ``bind(0)`` comes from the kernel's ephemeral range, the same range
every outgoing connection (PostgreSQL, Mosquitto, HTTP clients) takes its local port
from. Between the probe and the server's own bind, such a connection may take the port,
and the server fails with EADDRINUSE (a CI run lost a test that way). So the ports here
are drawn below the ephemeral range, where outgoing connections never land, and probed
by a bind before they are handed out.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_LOWEST = 10_000  # above the well-known and the usual registered service ports
_TRIES = 200


def _ephemeral_start() -> int:
    try:
        return int(_RANGE_FILE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768  # Linux's default


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now, outside the ephemeral range."""
    top = _ephemeral_start() - 1
    rng = random.SystemRandom()
    if top > _LOWEST:
        for _ in range(_TRIES):
            port = rng.randint(_LOWEST, top)
            if _bindable(port):
                return port
    # No room below the ephemeral range (or all taken): let the kernel pick.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        chosen: int = sock.getsockname()[1]
        return chosen
