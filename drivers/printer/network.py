"""Network transport: raw TCP (port 9100) through python-escpos ``Network``."""

from __future__ import annotations

import contextlib
from typing import Any

from . import base
from .base import EscposPrinter, PrinterError


def network_printer(host: str, port: int, profile: str | None) -> EscposPrinter:
    """A network printer at ``host:port``; connects on first use."""
    from escpos.printer import Network

    def make_network() -> Any:
        device = Network(host=host, port=port, timeout=base.CONNECT_TIMEOUT_S, profile=profile)
        return _NetworkStatusTimeout(device)

    return EscposPrinter(make_network, bidirectional=True, name=f"network {host}:{port}")


class _NetworkStatusTimeout:
    """python-escpos ``Network`` with a short read timeout for status answers."""

    def __init__(self, device: Any) -> None:
        self._device = device

    def open(self) -> None:
        self._device.open()
        # A status read that never comes back must not block for the connect timeout.
        self._device.device.settimeout(base.STATUS_TIMEOUT_S)

    def _raw(self, data: bytes) -> None:
        self._device.device.settimeout(base.WRITE_TIMEOUT_S)
        try:
            self._device._raw(data)
        finally:
            self._device.device.settimeout(base.STATUS_TIMEOUT_S)

    def _read(self) -> bytes:
        try:
            data = self._device._read()
        except TimeoutError:
            return b""
        if data == b"":
            raise PrinterError("connection closed by printer")
        return bytes(data)

    def close(self) -> None:
        # escpos' Network.close() looks at the private slot, which open() never set.
        sock = self._device._device
        if sock:
            with contextlib.suppress(OSError):
                sock.close()
        self._device._device = False
