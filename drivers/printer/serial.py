"""Serial transport: python-escpos ``Serial`` reading one-byte status answers promptly."""

from __future__ import annotations

from typing import Any

from . import base
from .base import EscposPrinter, ReceiptPrinter
from .dummy import UnusablePrinter


def serial_printer(port_name: str, baudrate: int, profile: str | None) -> ReceiptPrinter:
    """A serial printer, or an :class:`UnusablePrinter` when pyserial is missing."""
    from escpos.printer import Serial

    if not Serial.is_usable():
        return UnusablePrinter("serial printer needs pyserial (pip install pyserial)")
    return EscposPrinter(
        lambda: _SerialStatusRead(
            Serial(devfile=port_name, baudrate=baudrate, timeout=base.STATUS_TIMEOUT_S,
                   profile=profile)
        ),
        bidirectional=True,
        name=f"serial {port_name}",
    )


class _SerialStatusRead:
    """python-escpos ``Serial`` whose read returns as soon as the answer byte is in.

    escpos reads 16 bytes, which on a serial port waits for the whole timeout when the
    printer (correctly) answers one byte.
    """

    def __init__(self, device: Any) -> None:
        self._device = device

    def open(self) -> None:
        self._device.open()

    def _raw(self, data: bytes) -> None:
        self._device._raw(data)

    def _read(self) -> bytes:
        port = self._device.device
        first = port.read(1)
        if not first:
            return b""
        return bytes(first + port.read(port.in_waiting))

    def close(self) -> None:
        self._device.close()
