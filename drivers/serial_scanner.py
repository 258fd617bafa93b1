"""Serial barcode scanner (USB CDC / RS-232): each code arrives as text + CR (or CRLF).

A second input beside the camera: ``async for read in scanner`` yields
:class:`ScannerRead` ``(text, symbology)`` tuples (``symbology`` is ``"unknown"``:
the scanner does not say) for the scan stream (``drivers/scanning.py``) to debounce
and classify.

Faults: a port that is missing or unplugged puts the scanner in ``error`` (logged
once) and it is reopened every ``reopen_s``. Noise is dropped with a warning and
never reaches the cart: lines with non-printable characters or invalid UTF-8 (a wrong
baud rate looks like this), and lines longer than ``MAX_LINE`` (a stuck trigger or a
device that is not a scanner). A line that was dropped puts the scanner in ``error``
("garbage") until the next good read. Codes are never logged in clear (payment codes
are secrets): only their length, or ``mask_code`` at DEBUG.

Reading happens in one thread (pyserial blocks); reads reach the event loop through a
bounded queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from typing import Any, NamedTuple

from drivers.config import NoScannerConfig, ScannerSection
from drivers.state import ERROR, OK, DeviceState

log = logging.getLogger(__name__)

# The longest code we accept: a QR member token is ~100 characters, Code 128 rarely
# passes 48; 512 leaves room and still stops a runaway line from eating memory.
MAX_LINE = 512
# pyserial read timeout: how fast the reader notices a stop request.
READ_POLL_S = 0.1
# A replugged USB CDC scanner re-enumerates within ~1 s.
REOPEN_S = 2.0
# Reads waiting for the consumer; a shopper cannot scan faster than a few per second.
QUEUE_SIZE = 64


class ScannerRead(NamedTuple):
    """One code read by the scanner."""

    text: str
    symbology: str = "unknown"


class LineSplitter:
    """Bytes in, validated lines out; CR, LF or CRLF end a line.

    ``feed(data)`` returns ``(lines, dropped)``: the good lines and how many lines were
    dropped as garbage (non-printable, bad UTF-8, or overlong).
    """

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self.max_line = max_line
        self._buf = bytearray()
        self._overlong = False

    def feed(self, data: bytes) -> tuple[list[str], int]:
        lines: list[str] = []
        dropped = 0
        for byte in data:
            if byte in (0x0D, 0x0A):
                if self._overlong:
                    dropped += 1
                elif self._buf:
                    text = self._validate(bytes(self._buf))
                    if text is None:
                        dropped += 1
                    else:
                        lines.append(text)
                self._buf.clear()
                self._overlong = False
                continue
            if self._overlong:
                continue
            self._buf.append(byte)
            if len(self._buf) > self.max_line:
                self._buf.clear()
                self._overlong = True
        return lines, dropped

    @staticmethod
    def _validate(raw: bytes) -> str | None:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return None
        text = text.strip(" ")
        if not text or not text.isprintable():
            return None
        return text


class SerialScanner:
    """A serial barcode scanner as an async iterator of :class:`ScannerRead`.

    Use as ``async with SerialScanner(port) as scanner: async for read in scanner``.
    """

    def __init__(self, port: str, baudrate: int = 9600, *, reopen_s: float = REOPEN_S,
                 max_line: int = MAX_LINE) -> None:
        self.port = port
        self.baudrate = baudrate
        self.reopen_s = reopen_s
        self.max_line = max_line
        self.reads = 0
        self.dropped = 0
        self._queue: asyncio.Queue[ScannerRead] = asyncio.Queue(QUEUE_SIZE)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.device_state = DeviceState(f"serial scanner {port}", log)

    async def __aenter__(self) -> SerialScanner:
        self._loop = asyncio.get_running_loop()
        self._stop.clear()
        self._thread = threading.Thread(target=self._reader, name="serial-scanner", daemon=True)
        self._thread.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 5)
            self._thread = None

    def __aiter__(self) -> SerialScanner:
        return self

    async def __anext__(self) -> ScannerRead:
        return await self._queue.get()

    async def read(self) -> ScannerRead:
        """The next code."""
        return await self._queue.get()

    def health(self) -> dict[str, Any]:
        """``{"state": "ok"|"error", "reason": ..., "port": ..., "reads": n, "dropped": n}``."""
        state, reason = self.device_state.snapshot()
        return {"state": state, "reason": reason, "port": self.port,
                "reads": self.reads, "dropped": self.dropped}

    # -- the reader thread -----------------------------------------------------------
    def _reader(self) -> None:
        import serial

        while not self._stop.is_set():
            try:
                port = serial.Serial(self.port, self.baudrate, timeout=READ_POLL_S)
            except (serial.SerialException, OSError, ValueError) as err:
                self.device_state.set(ERROR, f"cannot open {self.port}: {_one_line(err)}")
                self._stop.wait(self.reopen_s)
                continue
            self.device_state.set(OK, None)
            splitter = LineSplitter(self.max_line)
            try:
                while not self._stop.is_set():
                    data = port.read(port.in_waiting or 1)
                    if not data:
                        continue
                    lines, dropped = splitter.feed(data)
                    if dropped:
                        self.dropped += dropped
                        log.warning("serial scanner %s: dropped %d garbage line(s)", self.port, dropped)
                        self.device_state.set(
                            ERROR, "garbage on the line (wrong baud rate or noise)")
                    for text in lines:
                        self.reads += 1
                        self.device_state.set(OK, None)
                        self._deliver(ScannerRead(text))
            except (serial.SerialException, OSError) as err:
                self.device_state.set(ERROR, f"disconnected: {_one_line(err)}")
            finally:
                with contextlib.suppress(Exception):
                    port.close()
            self._stop.wait(self.reopen_s)

    def _deliver(self, read: ScannerRead) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return

        def put() -> None:
            try:
                self._queue.put_nowait(read)
            except asyncio.QueueFull:
                log.warning("serial scanner: reads not consumed, dropping one (len %d)", len(read.text))

        with contextlib.suppress(RuntimeError):  # loop closing during shutdown
            loop.call_soon_threadsafe(put)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("serial scanner read %s", _masked(read.text))


class NoScanner:
    """``scanner.kind = "none"``: an iterator that never yields."""

    async def __aenter__(self) -> NoScanner:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def __aiter__(self) -> NoScanner:
        return self

    async def __anext__(self) -> ScannerRead:
        await asyncio.Event().wait()
        raise StopAsyncIteration  # pragma: no cover

    def health(self) -> dict[str, Any]:
        return {"state": "off", "reason": "no serial scanner configured"}


def build_scanner(cfg: ScannerSection) -> SerialScanner | NoScanner:
    """The scanner the config's ``[scanner]`` section asks for."""
    if isinstance(cfg, NoScannerConfig):
        return NoScanner()
    return SerialScanner(cfg.port, cfg.baudrate)


def _masked(text: str) -> str:
    try:
        from contract.codes import mask_code
    except ImportError:  # pragma: no cover
        return f"<{len(text)} chars>"
    return mask_code(text)


def _one_line(err: BaseException) -> str:
    return (" ".join(str(err).split()) or type(err).__name__)[:200]
