"""A listening address for an in-process test server, held from the moment it is chosen.

``common.ports.free_port()`` closes its probe socket: between that and the server's own
bind, any outgoing connection of the run (PostgreSQL, Mosquitto, HTTP clients) may be
given the same port from the ephemeral range, and the bind fails with EADDRINUSE (a CI
run lost test_parked_till that way). An in-process aiohttp server takes the bound socket
itself (``web.SockSite``) instead.
"""

from __future__ import annotations

import socket


def bound_socket(host: str = "127.0.0.1") -> socket.socket:
    """A TCP socket bound to a free port on ``host`` (aiohttp's SockSite listens on it)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((host, 0))
    return sock


def port_of(sock: socket.socket) -> int:
    port: int = sock.getsockname()[1]
    return port
