"""File transport: receipts appended to a file or device node (``/dev/usb/lp0``, the demo)."""

from __future__ import annotations

from typing import Any

from .base import EscposPrinter, PrinterError


def file_printer(path: str, profile: str | None) -> EscposPrinter:
    """A write-only printer appending to ``path`` (no status: it cannot answer)."""
    return EscposPrinter(
        lambda: _AppendingFile(path, profile=profile), bidirectional=False, name=f"file {path}"
    )


def _AppendingFile(path: str, profile: str | None) -> Any:
    """python-escpos ``File`` that appends (a spool file keeps every receipt)."""
    from escpos.printer import File

    class AppendingFile(File):  # type: ignore[misc,unused-ignore]  # escpos has no types
        device: Any  # the open file, or None after a failed open

        def open(self, raise_not_found: bool = True) -> None:
            try:
                self.device = open(self.devfile, "ab")
            except OSError as err:
                self.device = None
                raise PrinterError(f"cannot open {self.devfile}: {err}") from err

    return AppendingFile(devfile=path, profile=profile)
