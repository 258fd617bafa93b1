"""Printers without a device: the in-memory fake, "no printer", and "library missing"."""

from __future__ import annotations

import threading

from .base import PrinterError, PrinterStatus, PrinterUnavailable


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
        return bytes(self._dummy.output)

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
