"""The journal's exceptions: one tree under :class:`JournalError`."""

from __future__ import annotations


class JournalError(Exception):
    """A journal operation that cannot be done; the message is safe to log."""


class OrderAlreadyCommitted(JournalError):
    """The order number of a sale being committed is already a committed order."""

    def __init__(self, order_no: str) -> None:
        super().__init__(f"order {order_no} is already committed")
        self.order_no = order_no


class JournalClosed(JournalError):
    """The journal is not open."""


class JournalWriteError(JournalError):
    """The disk refused a write (full, I/O error); the transaction was rolled back."""
