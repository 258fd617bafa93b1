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
"""

from __future__ import annotations

import contextlib
import logging
import threading
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    from .config import PrinterSection

log = logging.getLogger(__name__)

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


class DummyPrinter:
    """The faithful fake for tests and the demo: python-escpos ``Dummy`` keeps the bytes.

    ``set_status`` switches what ``status()`` answers, so tests can run out of paper.
    """

    def __init__(self, profile: str | None = None) -> None:
        from escpos.printer import Dummy

        self._dummy = Dummy(profile=profile)
        self._status = PrinterStatus(online=True, paper="ok")
        self._lock = threading.Lock()
        self.fail_writes: str | None = None

    @property
    def output(self) -> bytes:
        """Everything written so far."""
        return self._dummy.output

    def clear(self) -> None:
        """Forget the bytes written so far."""
        self._dummy.clear()

    def set_status(self, status: PrinterStatus) -> None:
        """What the next ``status()`` answers."""
        self._status = status

    def write(self, data: bytes) -> None:
        """Keep the bytes (or fail when ``fail_writes`` holds a reason)."""
        with self._lock:
            if self.fail_writes:
                raise PrinterError(self.fail_writes)
            if not self._status.ready:
                # A real printer with no paper buffers nothing useful for us; fail loudly.
                raise PrinterError(self._status.reason or "not ready")
            self._dummy._raw(data)

    def status(self) -> PrinterStatus:
        """The status set with :meth:`set_status` (ready by default)."""
        return self._status

    def close(self) -> None:
        """Nothing to release."""


class NoPrinter:
    """``kind = "none"``: every call says there is no printer."""

    REASON = "no printer configured"

    def write(self, data: bytes) -> None:
        """Always fails: there is nowhere to send the bytes."""
        raise PrinterUnavailable(self.REASON)

    def status(self) -> PrinterStatus:
        """Always offline with the reason."""
        return PrinterStatus(online=False, error=self.REASON, bidirectional=False)

    def close(self) -> None:
        """Nothing to release."""


class UnusablePrinter(NoPrinter):
    """A transport whose library is missing: reported, never crashing the agent."""

    def __init__(self, reason: str) -> None:
        self.REASON = reason


def build_printer(cfg: PrinterSection) -> ReceiptPrinter:
    """The printer the config asks for; a missing library gives an :class:`UnusablePrinter`.

    Raises:
        PrinterUnavailable: the section lacks what its ``kind`` needs (e.g. no host).
    """
    profile = None if cfg.profile == "default" else cfg.profile
    if cfg.kind == "none":
        return NoPrinter()
    if cfg.kind == "dummy":
        return DummyPrinter(profile=profile)
    if cfg.kind == "network":
        if not cfg.host:
            raise PrinterUnavailable("printer.host is required for kind = 'network'")
        from escpos.printer import Network

        host, port = cfg.host, cfg.port

        def make_network() -> Any:
            device = Network(host=host, port=port, timeout=CONNECT_TIMEOUT_S, profile=profile)
            return _NetworkStatusTimeout(device)

        return EscposPrinter(make_network, bidirectional=True, name=f"network {host}:{port}")
    if cfg.kind == "serial":
        if not cfg.serial_port:
            raise PrinterUnavailable("printer.serial_port is required for kind = 'serial'")
        from escpos.printer import Serial

        if not Serial.is_usable():
            return UnusablePrinter("serial printer needs pyserial (pip install pyserial)")
        port_name, baud = cfg.serial_port, cfg.serial_baudrate
        return EscposPrinter(
            lambda: _SerialStatusRead(
                Serial(devfile=port_name, baudrate=baud, timeout=STATUS_TIMEOUT_S, profile=profile)
            ),
            bidirectional=True,
            name=f"serial {port_name}",
        )
    if cfg.kind == "usb":
        if cfg.usb_vendor_id is None or cfg.usb_product_id is None:
            raise PrinterUnavailable("printer.usb_vendor_id and usb_product_id are required for kind = 'usb'")
        from escpos.printer import Usb

        if not Usb.is_usable():
            return UnusablePrinter(
                "USB printer needs pyusb and libusb-1.0 (pip install pyusb; apt install libusb-1.0-0)"
            )
        if not usb_backend_available():
            return UnusablePrinter("USB printer needs libusb-1.0 (apt install libusb-1.0-0)")
        vid, pid = cfg.usb_vendor_id, cfg.usb_product_id
        return EscposPrinter(
            lambda: _UsbEndpoints(
                Usb(idVendor=vid, idProduct=pid, timeout=int(WRITE_TIMEOUT_S * 1000), profile=profile)
            ),
            bidirectional=True,
            name=f"usb {vid:04x}:{pid:04x}",
        )
    if cfg.kind == "file":
        if cfg.file_path is None:
            raise PrinterUnavailable("printer.file_path is required for kind = 'file'")

        path = str(cfg.file_path)
        return EscposPrinter(
            lambda: _AppendingFile(path, profile=profile), bidirectional=False, name=f"file {path}"
        )
    raise PrinterUnavailable(f"unknown printer kind {cfg.kind!r}")  # pragma: no cover


def usb_backend_available() -> bool:
    """True when pyusb finds a libusb backend (python-escpos' is_usable() only checks pyusb)."""
    try:
        import usb.backend.libusb0
        import usb.backend.libusb1
    except ImportError:
        return False
    return usb.backend.libusb1.get_backend() is not None or usb.backend.libusb0.get_backend() is not None


class _NetworkStatusTimeout:
    """python-escpos ``Network`` with a short read timeout for status answers."""

    def __init__(self, device: Any) -> None:
        self._device = device

    def open(self) -> None:
        self._device.open()
        # A status read that never comes back must not block for the connect timeout.
        self._device.device.settimeout(STATUS_TIMEOUT_S)

    def _raw(self, data: bytes) -> None:
        self._device.device.settimeout(WRITE_TIMEOUT_S)
        try:
            self._device._raw(data)
        finally:
            self._device.device.settimeout(STATUS_TIMEOUT_S)

    def _read(self) -> bytes:
        try:
            data = self._device._read()
        except TimeoutError:
            return b""
        if data == b"":
            raise PrinterError("connection closed by printer")
        return data

    def close(self) -> None:
        # escpos' Network.close() looks at the private slot, which open() never set.
        sock = self._device._device
        if sock:
            with contextlib.suppress(OSError):
                sock.close()
        self._device._device = False


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
        return first + port.read(port.in_waiting)

    def close(self) -> None:
        self._device.close()


def _AppendingFile(path: str, profile: str | None) -> Any:
    """python-escpos ``File`` that appends (a spool file keeps every receipt)."""
    from escpos.printer import File

    class AppendingFile(File):
        def open(self, raise_not_found: bool = True) -> None:
            try:
                self.device = open(self.devfile, "ab")
            except OSError as err:
                self.device = None
                raise PrinterError(f"cannot open {self.devfile}: {err}") from err

    return AppendingFile(devfile=path, profile=profile)


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text[:200]
