"""Invoice (发票) requests on orders (ORD-6): buyer title, tax id, e-mail, status.

Only the request is stored here; :mod:`cloud_bridge.finance.fapiao` issues it through
the e-invoice platform (数电发票) and moves the status on (``requested -> issued |
failed``, or ``cancelled``); red-letter invoices for refunds live there too.
"""

from __future__ import annotations

import re
from typing import Literal, get_args

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .errors import Conflict, InvalidRequest, NotFound
from .models import Invoice, Order, now
from .orders import CANCELLED, CREATED, REFUNDED

REQUESTED: InvoiceStatus = "requested"
InvoiceStatus = Literal["requested", "issued", "failed", "cancelled"]
STATUSES: tuple[InvoiceStatus, ...] = get_args(InvoiceStatus)
STATUS_CHANGES: dict[str, set[str]] = {REQUESTED: {"issued", "failed", "cancelled"}, "failed": {REQUESTED, "cancelled"}}

# 统一社会信用代码 (18 characters); older 15/20-character tax numbers are still accepted.
TAX_ID = re.compile(r"^([0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}|[0-9A-Z]{15}|[0-9A-Z]{20})$")
EMAIL = re.compile(r"^[^@\s\x00]{1,64}@[^@\s\x00]{1,190}\.[A-Za-z]{2,24}$")


async def request_invoice(
    session: AsyncSession, order: Order, *, openid: str | None, kind: str, title: str,
    tax_id: str | None, email: str,
) -> Invoice:
    """Store one invoice request for a paid order; a company needs its tax id."""
    if order.status in (CREATED, CANCELLED, REFUNDED):
        raise Conflict(f"order {order.order_no} is {order.status}; no invoice can be issued")
    if kind == "company" and not (tax_id and TAX_ID.match(tax_id)):
        raise InvalidRequest("a company invoice needs a valid tax id (纳税人识别号)")
    if not EMAIL.match(email):
        raise InvalidRequest("email is not a valid address")
    existing = await session.scalar(select(Invoice).where(Invoice.order_id == order.id))
    if existing is not None and existing.status != "cancelled":
        raise Conflict(f"order {order.order_no} already has an invoice request")
    amount = order.total - order.refunded_total
    if existing is not None:
        await session.delete(existing)
        await session.flush()
    inv = Invoice(order_id=order.id, openid=openid, kind=kind, title=title,
                  tax_id=tax_id if kind == "company" else tax_id or None, email=email,
                  amount=amount, status=REQUESTED, created_at=now(), updated_at=now())
    session.add(inv)
    await session.flush()
    return inv


async def set_status(session: AsyncSession, invoice_id: int, status: str,
                     error: str | None = None) -> Invoice:
    inv = await session.get(Invoice, invoice_id)
    if inv is None:
        raise NotFound(f"invoice {invoice_id} not found")
    if status not in STATUS_CHANGES.get(inv.status, set()):
        raise Conflict(f"invoice {invoice_id} cannot go from {inv.status} to {status}")
    inv.status, inv.error, inv.updated_at = status, error, now()
    return inv


async def list_invoices(session: AsyncSession, *, store: str | None, status: str | None,
                        limit: int, offset: int) -> list[tuple[Invoice, Order]]:
    q = (select(Invoice, Order).join(Order, Order.id == Invoice.order_id)
         .order_by(Invoice.id.desc()).limit(limit).offset(offset))
    if store is not None:
        q = q.where(Order.store == store)
    if status is not None:
        q = q.where(Invoice.status == status)
    return [(i, o) for i, o in (await session.execute(q)).all()]
