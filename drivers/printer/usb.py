"""USB transport: python-escpos ``Usb`` with the endpoints the printer really has."""

from __future__ import annotations

import contextlib
from typing import Any

from . import base
from .base import EscposPrinter, ReceiptPrinter
from .dummy import UnusablePrinter


def usb_printer(vendor_id: int, product_id: int, profile: str | None) -> ReceiptPrinter:
    """A USB printer by ids, or an :class:`UnusablePrinter` saying which library is missing."""
    from escpos.printer import Usb

    if not Usb.is_usable():
        return UnusablePrinter(
            "USB printer needs pyusb and libusb-1.0 (pip install pyusb; apt install libusb-1.0-0)"
        )
    if not usb_backend_available():
        return UnusablePrinter("USB printer needs libusb-1.0 (apt install libusb-1.0-0)")
    return EscposPrinter(
        lambda: _UsbEndpoints(
            Usb(idVendor=vendor_id, idProduct=product_id,
                timeout=int(base.WRITE_TIMEOUT_S * 1000), profile=profile)
        ),
        bidirectional=True,
        name=f"usb {vendor_id:04x}:{product_id:04x}",
    )


def usb_backend_available() -> bool:
    """True when pyusb finds a libusb backend (python-escpos' is_usable() only checks pyusb)."""
    try:
        import usb.backend.libusb0
        import usb.backend.libusb1
    except ImportError:
        return False
    return usb.backend.libusb1.get_backend() is not None or usb.backend.libusb0.get_backend() is not None


class _UsbEndpoints:
    """python-escpos ``Usb`` with the bulk endpoints read from the device itself.

    escpos assumes Epson's IN 0x82 / OUT 0x01; Chinese printers often use others
    (OUT 0x03 / IN 0x81 on many Xprinter models), so take them from the descriptors
    of the first interface. A status read that times out is "no answer", not an error.
    """

    def __init__(self, device: Any) -> None:
        self._device = device

    def open(self) -> None:
        self._device.open()
        with contextlib.suppress(Exception):  # keep escpos' defaults if descriptors are odd
            self._device.in_ep, self._device.out_ep = bulk_endpoints(
                self._device.device.get_active_configuration()[(0, 0)],
                self._device.in_ep, self._device.out_ep,
            )

    def _raw(self, data: bytes) -> None:
        self._device._raw(data)

    def _read(self) -> bytes:
        import usb.core

        try:
            return bytes(self._device._read())
        except usb.core.USBTimeoutError:
            return b""

    def close(self) -> None:
        self._device.close()


def bulk_endpoints(interface: Any, in_ep: int, out_ep: int) -> tuple[int, int]:
    """``(in, out)`` bulk endpoint addresses of a USB interface (defaults where absent)."""
    for ep in interface:
        if ep.bmAttributes & 0x03 != 0x02:  # not a bulk endpoint
            continue
        if ep.bEndpointAddress & 0x80:
            in_ep = ep.bEndpointAddress
        else:
            out_ep = ep.bEndpointAddress
    return in_ep, out_ep
