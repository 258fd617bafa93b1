"""Finance rules: what each business document posts to the ledger.

Every function here posts at most one entry per source document (idempotent by
``source_id``) inside the caller's transaction and never commits it.

For the supply chain: :func:`post_goods_receipt` and :func:`post_supplier_payment`.
For bills and payouts: :func:`post_provider_fee`, :func:`post_provider_settlement`.
Sales, refunds, stored-value top-ups and restocked returns are found and posted by
:func:`cloud_bridge.finance.jobs.post_pending` through :mod:`.posting`.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from . import accounts as A
from . import costing
from .ledger import LedgerError, credit, debit, entry_for, post_entry, reverse_entry

__all__ = [
    "LedgerError",
    "local_date",
    "post_goods_receipt",
    "post_provider_fee",
    "post_provider_settlement",
    "post_supplier_payment",
    "reverse_entry",
]

# The stores' business day when a caller gives none (the bridge's [bridge] timezone).
DEFAULT_TZ = "Asia/Shanghai"


def local_date(at: datetime, tz: str = DEFAULT_TZ) -> str:
    """The shop's calendar day of ``at`` (entries are reported by business day)."""
    return at.astimezone(ZoneInfo(tz)).date().isoformat()


async def post_goods_receipt(
    session: AsyncSession,
    *,
    store: str,
    source_id: str,
    supplier_id: str,
    occurred_at: datetime,
    lines: list[tuple[str, int, int]],
    input_vat_fen: int,
) -> None:
    """A goods receipt (入库): debit inventory and input VAT, credit payables.

    ``lines`` are ``(product_id, qty, unit_cost_fen excl. VAT)``; each feeds the
    store's moving average cost. Posted once per ``source_id``.

    Raises:
        LedgerError: a negative quantity, cost or VAT, or nothing of value received.
    """
    if await entry_for(session, "goods_receipt", source_id) is not None:
        return
    if input_vat_fen < 0 or any(q <= 0 or c < 0 for _, q, c in lines):
        raise LedgerError(f"goods receipt {source_id}: quantities > 0, costs and VAT >= 0")
    value = sum(q * c for _, q, c in lines)
    entry = await post_entry(
        session, store=store, source_type="goods_receipt", source_id=source_id,
        business_date=local_date(occurred_at), occurred_at=occurred_at,
        legs=[debit(A.INVENTORY, value), debit(A.INPUT_VAT, input_vat_fen),
              credit(A.PAYABLES, value + input_vat_fen, f"supplier {supplier_id}")],
        memo=f"goods receipt from supplier {supplier_id}"[:200], posted_by="supply")
    if entry is None:
        return  # another worker posted it (and moved the costs) first
    for product_id, qty, cost in lines:
        await costing.receive(session, store, product_id, qty, cost)


async def post_supplier_payment(
    session: AsyncSession,
    *,
    store: str,
    source_id: str,
    supplier_id: str,
    occurred_at: datetime,
    amount_fen: int,
) -> None:
    """A payment to a supplier: debit payables, credit bank. Posted once per ``source_id``."""
    if amount_fen <= 0:
        raise LedgerError(f"supplier payment {source_id}: amount must be positive")
    await post_entry(
        session, store=store, source_type="supplier_payment", source_id=source_id,
        business_date=local_date(occurred_at), occurred_at=occurred_at,
        legs=[debit(A.PAYABLES, amount_fen, f"supplier {supplier_id}"),
              credit(A.BANK, amount_fen)],
        memo=f"payment to supplier {supplier_id}"[:200], posted_by="supply")


async def post_provider_fee(
    session: AsyncSession, *, store: str, provider: str, source_id: str,
    occurred_at: datetime, fee_fen: int,
) -> None:
    """A provider's fee (手续费) from its bill: debit fees, credit its clearing account.

    A negative fee (a fee given back with a refund) posts the other way round.
    """
    if fee_fen == 0:
        return
    legs = [debit(A.PROVIDER_FEES, fee_fen), credit(A.clearing(provider), fee_fen)]
    await post_entry(
        session, store=store, source_type="provider_fee", source_id=source_id,
        business_date=local_date(occurred_at), occurred_at=occurred_at,
        legs=legs,  # a negative fee makes both legs change sides by themselves
        memo=f"{provider} fee", posted_by="finance")


async def post_provider_settlement(
    session: AsyncSession, *, store: str, provider: str, source_id: str,
    occurred_at: datetime, amount_fen: int,
) -> None:
    """A provider paid our balance out to the bank (结算): debit bank, credit clearing."""
    if amount_fen <= 0:
        raise LedgerError(f"settlement {source_id}: amount must be positive")
    await post_entry(
        session, store=store, source_type="settlement", source_id=source_id,
        business_date=local_date(occurred_at), occurred_at=occurred_at,
        legs=[debit(A.BANK, amount_fen), credit(A.clearing(provider), amount_fen)],
        memo=f"{provider} settlement to bank", posted_by="finance")
