"""A listening address for an in-process test server, held from the moment it is chosen.

``common.ports.free_port()`` closes its probe socket before the server binds the port.
It draws ports below the ephemeral range, so no outgoing connection of the run can take
one in between (a CI run lost test_parked_till that way before), but another process
still could. A server started as a process needs a port number; an in-process aiohttp
server can take a socket already bound (``web.SockSite``), which leaves no gap at all.
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
