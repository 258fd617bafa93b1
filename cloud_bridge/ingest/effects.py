"""Ingest effects: what newly stored sales do inside the batch's transaction.

Only events stored for the first time get here (the storage step inserts by event
id first), so a resent sale never books its order, stock moves or stored value twice.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from .. import orders
from ..payments.providers.stored_value import apply_order_tenders


async def apply_sales(
    session: AsyncSession, sales: list[orders.CompletedSale], *, tz: str, actor: str
) -> int:
    """Book new sales: order rows and stock moves, then offline stored-value tenders.

    Returns:
        The number of alerts raised while recording the orders.
    """
    alerts = await orders.record_kiosk_sales(session, sales, tz=tz, actor=actor)
    await apply_order_tenders(session, sales)  # offline stored value, same transaction
    return len(alerts)
