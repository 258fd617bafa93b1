"""Receipt printer driver: one byte primitive, real-time status, transports from config.

Every printer here is a :class:`ReceiptPrinter`: ``write(data)`` sends raw ESC/POS
bytes (python-escpos' ``_raw``), ``status()`` asks the printer how it is (DLE EOT on
transports that can answer: network, serial, USB) and ``close()`` lets go of the
device. Everything above (layout, spooling) is built on those three calls.

The calls block (sockets, USB, serial); the spooler runs them through
``asyncio.to_thread``. A transport that fails is closed and opened again on the next
call, so a printer that was unplugged and plugged back in is picked up without a
restart.

Real-time status (Epson ESC/POS, also implemented by the Chinese thermal printers we
use: Xprinter, Gprinter, SPRT, Hprt): the printer answers ``DLE EOT n`` with one byte
whose bits 1 and 4 are set and bits 0 and 7 are clear (``b & 0x93 == 0x12``):

- ``n=1`` printer status: bit 3 offline.
- ``n=2`` offline cause: bit 2 cover open, bit 5 paper end stopped printing, bit 6 error.
- ``n=4`` roll paper sensor: bits 2-3 near end, bits 5-6 paper end.

One transport per module, as python-escpos does: :mod:`.network`, :mod:`.usb`,
:mod:`.serial`, :mod:`.file`; :mod:`.dummy` holds the printers without a device and
:mod:`.base` the status decoding and the python-escpos wrapper they share. A new
transport is a module with a ``<kind>_printer(...)`` function, a config model in
:mod:`drivers.config` and one branch in :func:`build_printer`.
"""

from __future__ import annotations

from ..config import (
    DummyPrinterConfig,
    NetworkPrinterConfig,
    NoPrinterConfig,
    PrinterSection,
    SerialPrinterConfig,
    UsbPrinterConfig,
)
from .base import (
    PrinterError,
    PrinterStatus,
    PrinterUnavailable,
    ReceiptPrinter,
    decode_status,
)
from .dummy import DummyPrinter, NoPrinter, UnusablePrinter
from .file import file_printer
from .network import network_printer
from .serial import serial_printer
from .usb import usb_printer

__all__ = [
    "DummyPrinter",
    "NoPrinter",
    "PrinterError",
    "PrinterStatus",
    "PrinterUnavailable",
    "ReceiptPrinter",
    "UnusablePrinter",
    "build_printer",
    "decode_status",
]


def build_printer(cfg: PrinterSection) -> ReceiptPrinter:
    """The printer the config asks for; a missing library gives an :class:`UnusablePrinter`.

    The section was validated at load (each kind has its required fields), so every
    kind here has what it needs.
    """
    if isinstance(cfg, NoPrinterConfig):
        return NoPrinter()
    profile = None if cfg.profile == "default" else cfg.profile
    if isinstance(cfg, DummyPrinterConfig):
        return DummyPrinter(profile=profile)
    if isinstance(cfg, NetworkPrinterConfig):
        return network_printer(cfg.host, cfg.port, profile)
    if isinstance(cfg, SerialPrinterConfig):
        return serial_printer(cfg.serial_port, cfg.serial_baudrate, profile)
    if isinstance(cfg, UsbPrinterConfig):
        return usb_printer(cfg.usb_vendor_id, cfg.usb_product_id, profile)
    return file_printer(str(cfg.file_path), profile)
