"""Finance tables: accounts, journal entries and their lines (fen), moving average costs.

Posted entries are immutable and balanced, and the database itself holds to it
(:mod:`.ddl`): lines are inserted first and the entry row last, which seals it;
the entry's foreign key from its lines is deferred to commit, so lines without an
entry never commit. On PostgreSQL a deferred constraint trigger checks that every
entry's debits equal its credits at commit; on SQLite a trigger refuses the entry
row unless its lines balance. On both, triggers refuse UPDATE and DELETE of posted
lines and entries, and new lines for an already posted entry: corrections are
reversing entries.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column

from cloud_bridge.models import Base, BigId, UtcDateTime, now

from . import ddl


class LedgerAccount(Base):
    """One account of one store's ledger (``code`` from :mod:`.accounts`)."""

    __tablename__ = "finance_accounts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    store: Mapped[str] = mapped_column(String(64))
    code: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(16))
    name_zh: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)

    __table_args__ = (UniqueConstraint("store", "code"),)


class JournalEntry(Base):
    """A posted journal entry; exactly one per source document (``source_type, source_id``)."""

    __tablename__ = "finance_entries"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    store: Mapped[str] = mapped_column(String(64))
    source_type: Mapped[str] = mapped_column(String(32))
    source_id: Mapped[str] = mapped_column(String(160))
    business_date: Mapped[str] = mapped_column(String(10))
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime)
    memo: Mapped[str | None] = mapped_column(String(200))
    amount: Mapped[int] = mapped_column(BigInteger)  # sum of the debits (= the credits), fen
    reverses_id: Mapped[int | None] = mapped_column(BigInteger)
    posted_by: Mapped[str] = mapped_column(String(128))
    posted_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)

    __table_args__ = (
        UniqueConstraint("source_type", "source_id"),
        Index("ix_finance_entries_store_date", "store", "business_date"),
    )


class JournalLine(Base):
    """One debit or credit of an entry, in fen; exactly one of the two is non-zero."""

    __tablename__ = "finance_lines"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    entry_id: Mapped[int] = mapped_column(
        ForeignKey("finance_entries.id", deferrable=True, initially="DEFERRED"), index=True)
    line_no: Mapped[int] = mapped_column(Integer)
    account_id: Mapped[int] = mapped_column(ForeignKey("finance_accounts.id"), index=True)
    debit: Mapped[int] = mapped_column(BigInteger, default=0)
    credit: Mapped[int] = mapped_column(BigInteger, default=0)
    memo: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (
        UniqueConstraint("entry_id", "line_no"),
        CheckConstraint("debit >= 0 AND credit >= 0 AND (debit = 0) <> (credit = 0)",
                        name="one_side"),
    )


class ItemCost(Base):
    """Moving average cost of one product in one store: units on hand and their value."""

    __tablename__ = "finance_item_costs"
    store: Mapped[str] = mapped_column(String(64), primary_key=True)
    product_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    qty: Mapped[int] = mapped_column(BigInteger, default=0)
    value: Mapped[int] = mapped_column(BigInteger, default=0)  # fen, excl. VAT
    last_unit_cost: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


for _table, _statements in ddl.TRIGGERS.items():
    for _dialect, _sqls in _statements.items():
        for _sql in _sqls:
            event.listen(Base.metadata.tables[_table], "after_create",
                         ddl.trigger_ddl(_sql, _dialect))


class DailyClose(Base):
    """A store's day close (日结): reconciled against the providers' bills, then closed."""

    __tablename__ = "finance_closes"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    store: Mapped[str] = mapped_column(String(64))
    business_date: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | closed
    runs: Mapped[int] = mapped_column(Integer, default=0)
    checked: Mapped[int] = mapped_column(Integer, default=0)  # trades compared, last run
    providers: Mapped[str] = mapped_column(String(200), default="")  # billed, last run
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    reconciled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(128))

    __table_args__ = (UniqueConstraint("store", "business_date"),)


class CloseMismatch(Base):
    """One difference between orders and a provider's bill, and what finance did about it."""

    __tablename__ = "finance_close_mismatches"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    close_id: Mapped[int] = mapped_column(ForeignKey("finance_closes.id"), index=True)
    method: Mapped[str] = mapped_column(String(16))
    out_trade_no: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(24))
    orders_amount: Mapped[int | None] = mapped_column(BigInteger)
    bill_amount: Mapped[int | None] = mapped_column(BigInteger)
    detail: Mapped[str | None] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16), default="open")  # open|resolved|accepted
    note: Mapped[str | None] = mapped_column(String(500))
    resolved_by: Mapped[str | None] = mapped_column(String(128))
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)

    __table_args__ = (UniqueConstraint("close_id", "method", "out_trade_no", "kind"),)


class BankAccount(Base):
    """A store's bank account; the number is stored encrypted (AES-256-GCM) and shown
    masked (last four digits)."""

    __tablename__ = "finance_bank_accounts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    store: Mapped[str] = mapped_column(String(64), index=True)
    bank_name: Mapped[str] = mapped_column(String(120))
    holder_name: Mapped[str] = mapped_column(String(120))
    number_enc: Mapped[str] = mapped_column(String(200))
    number_last4: Mapped[str] = mapped_column(String(4))
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class Payout(Base):
    """A withdrawal from a provider balance to a bank account (提现), maker-checker."""

    __tablename__ = "finance_payouts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    store: Mapped[str] = mapped_column(String(64), index=True)
    provider: Mapped[str] = mapped_column(String(16))
    bank_account_id: Mapped[int] = mapped_column(ForeignKey("finance_bank_accounts.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))  # requested|approved|rejected|cancelled
    note: Mapped[str | None] = mapped_column(String(500))
    requested_by: Mapped[str] = mapped_column(String(128))
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    decided_by: Mapped[str | None] = mapped_column(String(128))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)


class PayoutEvent(Base):
    """The audit trail of a payout: who did what, when."""

    __tablename__ = "finance_payout_events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    payout_id: Mapped[int] = mapped_column(ForeignKey("finance_payouts.id"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(String(500))


class Budget(Base):
    """A budget for one account of one store for one month (fen)."""

    __tablename__ = "finance_budgets"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    store: Mapped[str] = mapped_column(String(64))
    code: Mapped[str] = mapped_column(String(80))
    month: Mapped[str] = mapped_column(String(7))  # YYYY-MM
    amount: Mapped[int] = mapped_column(BigInteger)
    updated_by: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)

    __table_args__ = (UniqueConstraint("store", "code", "month"),
                      CheckConstraint("amount >= 0", name="amount_not_negative"))


class Expense(Base):
    """An expense paid or other income received, entered by finance, with its document."""

    __tablename__ = "finance_expenses"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    store: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # expense | income
    code: Mapped[str] = mapped_column(String(80))
    amount: Mapped[int] = mapped_column(BigInteger)  # fen, VAT included
    vat: Mapped[int] = mapped_column(BigInteger, default=0)
    paid_via: Mapped[str] = mapped_column(String(8))  # cash | bank
    business_date: Mapped[str] = mapped_column(String(10))
    description: Mapped[str] = mapped_column(String(500))
    attachment_key: Mapped[str | None] = mapped_column(String(200))
    attachment_type: Mapped[str | None] = mapped_column(String(64))
    attachment_size: Mapped[int | None] = mapped_column(Integer)
    attachment_sha256: Mapped[str | None] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)

    __table_args__ = (CheckConstraint("amount > 0 AND vat >= 0 AND vat < amount",
                                      name="amounts"),)


class Fapiao(Base):
    """An e-invoice (数电发票) of an invoice request: the blue one, or a red-letter one
    reversing part or all of it. ``apply_id`` is the platform's idempotency key: one
    blue per request, one red per refund."""

    __tablename__ = "finance_fapiao"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    store: Mapped[str] = mapped_column(String(64), index=True)
    color: Mapped[str] = mapped_column(String(4))  # blue | red
    apply_id: Mapped[str] = mapped_column(String(64), unique=True)
    blue_id: Mapped[int | None] = mapped_column(ForeignKey("finance_fapiao.id"))
    source: Mapped[str | None] = mapped_column(String(80))  # red: the refund it follows
    reason_code: Mapped[str | None] = mapped_column(String(2))
    confirmation_no: Mapped[str | None] = mapped_column(String(40))
    # applying -> accepted -> issued | failed; red: applying -> confirming -> accepted ...
    status: Mapped[str] = mapped_column(String(12), index=True)
    total: Mapped[int] = mapped_column(BigInteger)  # fen, VAT included (positive for red)
    tax: Mapped[int] = mapped_column(BigInteger)
    items: Mapped[list] = mapped_column(JSON)
    number: Mapped[str | None] = mapped_column(String(20))
    code: Mapped[str | None] = mapped_column(String(12))
    issued_at: Mapped[str | None] = mapped_column(String(32))
    file_key: Mapped[str | None] = mapped_column(String(200))
    file_sha256: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(String(300))
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)

    __table_args__ = (CheckConstraint("total > 0 AND tax >= 0 AND tax < total",
                                      name="amounts"),)
