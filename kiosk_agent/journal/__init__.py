"""The kiosk's journal: every sale, payment attempt, outbox event and print job, in SQLite.

SQLite in WAL mode with ``synchronous=FULL``: a commit that returned survives a
crash or power loss. All sqlite work runs on ONE dedicated worker thread (``worker``),
which owns the connection and keeps every operation in submission order; the event
loop never blocks on the disk.

A completed sale is one transaction (:meth:`Journal.commit_sale`): the order and
its lines, its payment attempts' final status, its outbox events and its receipt
print job are all there or none of them is.

One module per concern, each a mixin of :class:`Journal` on top of
:class:`~kiosk_agent.journal.core.JournalCore` (connection, thread, transactions):
``outbox``, ``printing`` (print jobs), ``payments`` (attempts), ``sales`` (order
numbers, commit, orders, summary), ``recovery`` (drafts, orphans, start-up),
``parked``, ``catalog`` (price books), ``export``; ``schema`` holds the migrations.

Usage::

    async with Journal(path, store_id, kiosk_id) as j:
        await j.append_events([("device.fault", {...})])
"""

from __future__ import annotations

from .catalog import CatalogMixin
from .core import BUSY_TIMEOUT_MS, WAL_AUTOCHECKPOINT_PAGES, JournalCore
from .errors import JournalClosed, JournalError, JournalWriteError, OrderAlreadyCommitted
from .export import ExportMixin, export_records, import_records
from .outbox import DeadLetter, OutboxMixin, OutboxRow, OutboxStats
from .parked import ParkedOrder, ParkedOrdersMixin
from .payments import ORPHAN_REASON, PAYMENT_STATUSES, PaymentAttempt, PaymentAttemptsMixin
from .printing import PRINT_KINDS, PrintJob, PrintJobsMixin
from .recovery import RecoveryMixin, RecoveryReport
from .sales import CommittedSale, SalesMixin
from .schema import SCHEMA_VERSION, SchemaError, migrate
from .staff import StaffApproval, StaffApprovalsMixin

__all__ = [
    "BUSY_TIMEOUT_MS",
    "ORPHAN_REASON",
    "PAYMENT_STATUSES",
    "PRINT_KINDS",
    "SCHEMA_VERSION",
    "WAL_AUTOCHECKPOINT_PAGES",
    "CatalogMixin",
    "CommittedSale",
    "DeadLetter",
    "ExportMixin",
    "Journal",
    "JournalClosed",
    "JournalCore",
    "JournalError",
    "JournalWriteError",
    "OrderAlreadyCommitted",
    "OutboxMixin",
    "OutboxRow",
    "OutboxStats",
    "ParkedOrder",
    "ParkedOrdersMixin",
    "PaymentAttempt",
    "PaymentAttemptsMixin",
    "PrintJob",
    "PrintJobsMixin",
    "RecoveryMixin",
    "RecoveryReport",
    "SalesMixin",
    "SchemaError",
    "StaffApproval",
    "StaffApprovalsMixin",
    "export_records",
    "import_records",
    "migrate",
]


class Journal(
    RecoveryMixin, PaymentAttemptsMixin, ParkedOrdersMixin, CatalogMixin, ExportMixin,
    StaffApprovalsMixin,
):
    """The kiosk's durable store. An async context manager; see the module docstring.

    Args:
        path: the SQLite file (created with its parent directory if missing).
        store_id: this kiosk's store, written into every event.
        kiosk_id: this kiosk, the prefix of order numbers.
        timezone: the shop's time zone; the business day of order numbers.
    """
