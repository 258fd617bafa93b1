"""Receipt printer basics: the byte primitive, real-time status, the python-escpos wrapper.

Real-time status (Epson ESC/POS, also implemented by the Chinese thermal printers we
use: Xprinter, Gprinter, SPRT, Hprt): the printer answers ``DLE EOT n`` with one byte
whose bits 1 and 4 are set and bits 0 and 7 are clear (``b & 0x93 == 0x12``):

- ``n=1`` printer status: bit 3 offline.
- ``n=2`` offline cause: bit 2 cover open, bit 5 paper end stopped printing, bit 6 error.
- ``n=4`` roll paper sensor: bits 2-3 near end, bits 5-6 paper end.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import asdict, dataclass
from typing import Any, Literal, Protocol, runtime_checkable

DLE_EOT = b"\x10\x04"
STATUS_PRINTER = 1
STATUS_OFFLINE_CAUSE = 2
STATUS_ERROR_CAUSE = 3
STATUS_PAPER = 4

# A real-time status answer always has bits 1 and 4 set and bits 0 and 7 clear;
# anything else is line noise, a wrong baud rate or a device that is not a printer.
STATUS_FIXED_MASK = 0x93
STATUS_FIXED_BITS = 0x12

# A printer answers DLE EOT within a few ms even mid-job; a second is generous and
# keeps a status poll from hanging the spooler when a network printer is half-dead.
STATUS_TIMEOUT_S = 1.0
# Connecting to a network printer that is off should fail fast, not after the OS
# default of minutes; the spooler retries every retry_s anyway.
CONNECT_TIMEOUT_S = 3.0
# Writing a receipt (a few KB, one QR code) takes well under this even at 9600 baud.
WRITE_TIMEOUT_S = 10.0

Paper = Literal["ok", "near_end", "out", "unknown"]


class PrinterError(Exception):
    """The printer could not take the bytes or answer; ``str()`` is the reason to show."""


class PrinterUnavailable(PrinterError):
    """The printer cannot be used at all (missing library, no device configured)."""


@dataclass(frozen=True)
class PrinterStatus:
    """What the printer said about itself (or what we could tell without asking).

    ``bidirectional`` is False for transports that cannot answer (file, dummy without
    a status); then ``online`` means "the device could be opened" and ``paper`` is
    ``"unknown"``.
    """

    online: bool
    paper: Paper = "unknown"
    cover_open: bool = False
    error: str | None = None
    bidirectional: bool = True

    @property
    def ready(self) -> bool:
        """True when a receipt sent now would come out (near-end paper still prints)."""
        return self.online and self.error is None and not self.cover_open and self.paper != "out"

    @property
    def reason(self) -> str | None:
        """Short English reason why the printer is not ready, else None."""
        if self.error:
            return self.error
        if self.paper == "out":
            return "paper out"
        if self.cover_open:
            return "cover open"
        if not self.online:
            return "offline"
        return None

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for health reports and telemetry."""
        out = asdict(self)
        out["ready"] = self.ready
        out["reason"] = self.reason
        return out


@runtime_checkable
class ReceiptPrinter(Protocol):
    """A receipt printer: one byte primitive plus real-time status."""

    def write(self, data: bytes) -> None:
        """Send raw ESC/POS bytes; raises :class:`PrinterError`."""
        ...

    def status(self) -> PrinterStatus:
        """Ask the printer how it is; never raises for an absent printer (offline)."""
        ...

    def close(self) -> None:
        """Release the device; the next call opens it again."""
        ...


def decode_status(printer: int, offline: int | None, paper: int | None) -> PrinterStatus:
    """Turn DLE EOT 1/2/4 answer bytes into a :class:`PrinterStatus`.

    Raises:
        PrinterError: an answer byte that no ESC/POS printer would send.
    """
    for value in (printer, offline, paper):
        if value is not None and (value & STATUS_FIXED_MASK) != STATUS_FIXED_BITS:
            raise PrinterError(f"garbage status byte 0x{value:02x}")
    online = not printer & 0x08
    cover_open = bool(offline is not None and offline & 0x04)
    error = "printer error" if offline is not None and offline & 0x40 else None
    paper_state: Paper = "unknown"
    if paper is not None:
        if paper & 0x60:
            paper_state = "out"
        elif paper & 0x0C:
            paper_state = "near_end"
        else:
            paper_state = "ok"
    if offline is not None and offline & 0x20:
        paper_state = "out"
    return PrinterStatus(online=online, paper=paper_state, cover_open=cover_open, error=error)


class EscposPrinter:
    """A python-escpos printer object behind :class:`ReceiptPrinter`.

    Args:
        make_device: builds a fresh (unopened) python-escpos printer; called again
            after a failure, so an unplugged device is found when it comes back.
        bidirectional: the transport can read DLE EOT answers.
        name: for logs and error messages ("network 10.0.0.5:9100").
    """

    def __init__(self, make_device: Any, *, bidirectional: bool, name: str) -> None:
        self._make_device = make_device
        self.bidirectional = bidirectional
        self.name = name
        self._device: Any = None
        # write() and status() may be called from different worker threads.
        self._lock = threading.Lock()

    def _open(self) -> Any:
        if self._device is None:
            device = self._make_device()
            try:
                device.open()
            except Exception as err:
                raise PrinterError(f"{self.name}: cannot open: {_one_line(err)}") from err
            self._device = device
        return self._device

    def _drop(self) -> None:
        device, self._device = self._device, None
        if device is not None:
            with contextlib.suppress(Exception):
                device.close()

    def write(self, data: bytes) -> None:
        """Send raw bytes (python-escpos ``_raw``); reopens the device if needed."""
        with self._lock:
            device = self._open()
            try:
                device._raw(data)
            except Exception as err:
                self._drop()
                raise PrinterError(f"{self.name}: write failed: {_one_line(err)}") from err

    def status(self) -> PrinterStatus:
        """DLE EOT 1, 2 and 4 where the transport can answer; reachability otherwise."""
        with self._lock:
            try:
                device = self._open()
            except PrinterError as err:
                return PrinterStatus(online=False, error=str(err), bidirectional=self.bidirectional)
            if not self.bidirectional:
                return PrinterStatus(online=True, bidirectional=False)
            try:
                printer = self._query(device, STATUS_PRINTER)
                if printer is None:
                    return PrinterStatus(online=False, error="no status answer")
                offline = self._query(device, STATUS_OFFLINE_CAUSE)
                paper = self._query(device, STATUS_PAPER)
                return decode_status(printer, offline, paper)
            except PrinterError as err:
                # Garbage or a dead link: start from a fresh connection next time.
                self._drop()
                return PrinterStatus(online=False, error=str(err))
            except Exception as err:
                self._drop()
                return PrinterStatus(online=False, error=f"{self.name}: {_one_line(err)}")

    def _query(self, device: Any, n: int) -> int | None:
        device._raw(DLE_EOT + bytes([n]))
        answer = bytes(device._read() or b"")
        if not answer:
            return None
        # Only the last byte answers this query; earlier ones are late answers to an
        # earlier query (or automatic status back) that we no longer care about.
        return answer[-1]

    def close(self) -> None:
        """Release the device (the next call opens it again)."""
        with self._lock:
            self._drop()


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text[:200]
