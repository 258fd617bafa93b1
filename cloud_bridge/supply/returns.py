"""Goods a shopper brings back (退货): into the lots the order took them from, or aside.

A restocked return puts the units back on the shelf into the lots that order's sale
movements took them from, the earliest-expiring lot first (the unit in hand cannot be
told from the others, and the earlier date is the safe one to sell it by); units the
order took from no lot come back without a lot. A return kept aside (``quarantine`` to be
checked, ``damaged`` to be disposed of or claimed from the supplier) moves the units to
that location under the same lots, outside the sellable total. Every movement names the
return (``doc_type`` ``return``, ``doc_id`` its id).

Called by :func:`cloud_bridge.supply.stock.record_stock_deltas` (the stock observer) when
the context of a positive delta carries ``return_id``.
"""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge import inventory
from cloud_bridge.models import Order, ReturnRecord, now
from common.jsontypes import JsonMapping, JsonObject

from .models import SHELF, Lot, Movement

QUARANTINE = "quarantine"
DAMAGED = "damaged"
# Where returned goods may go: back on sale, or kept aside out of the sellable stock.
RETURN_LOCATIONS = (SHELF, QUARANTINE, DAMAGED)


async def _returnable_by_lot(session: AsyncSession, store: str, product_id: str,
                             order_no: str, return_id: str) -> dict[str, int]:
    """Units per lot the order took and its earlier returns have not brought back."""
    sold = await session.execute(
        select(Movement.lot_no, func.sum(Movement.qty))
        .where(Movement.store == store, Movement.product_id == product_id,
               Movement.kind == "sale", Movement.doc_type == "order",
               Movement.doc_id == order_no, Movement.lot_no.is_not(None))
        .group_by(Movement.lot_no))
    out = {lot: -int(q) for lot, q in sold.all() if q and q < 0}
    earlier = [str(i) for i in (await session.scalars(
        select(ReturnRecord.id).join(Order, Order.id == ReturnRecord.order_id)
        .where(Order.order_no == order_no))).all() if str(i) != return_id]
    if out and earlier:
        back = await session.execute(
            select(Movement.lot_no, func.sum(Movement.qty))
            .where(Movement.store == store, Movement.product_id == product_id,
                   Movement.doc_type == "return", Movement.doc_id.in_(earlier),
                   Movement.lot_no.is_not(None), Movement.qty > 0)
            .group_by(Movement.lot_no))
        for lot, q in back.all():
            if lot in out:
                out[lot] -= int(q or 0)
    return {lot: q for lot, q in out.items() if q > 0}


async def restore_returned(session: AsyncSession, store: str, product_id: str, qty: int,
                           info: JsonMapping, *, kind: str) -> list[JsonObject]:
    """Put ``qty`` returned units back; returns the movement rows (the caller writes them).

    ``info``: ``order_no``, ``return_id``, ``location`` (one of :data:`RETURN_LOCATIONS`,
    default the shelf) and ``by`` (who recorded the return).
    """
    location = str(info.get("location") or SHELF)
    order_no, return_id = str(info["order_no"]), str(info["return_id"])
    base: JsonObject = {"store": store, "location": location, "product_id": product_id, "kind": kind,
            "doc_type": "return", "doc_id": return_id, "actor": info.get("by")}
    open_ = await _returnable_by_lot(session, store, product_id, order_no, return_id)
    lots = []
    if open_:
        lots = list((await session.scalars(
            select(Lot).where(Lot.store == store, Lot.location == SHELF,
                              Lot.product_id == product_id, Lot.lot_no.in_(sorted(open_)))
            .order_by(Lot.expiry_date.is_(None), Lot.expiry_date, Lot.id)
            .with_for_update())).all())
    rows: list[JsonObject] = []
    left = qty
    for lot in lots:
        put = min(left, open_[lot.lot_no])
        if put <= 0:
            continue
        left -= put
        if location == SHELF:
            await session.execute(update(Lot).where(Lot.id == lot.id)
                                  .values(qty=Lot.qty + put))
        else:
            stmt = inventory.dialect_insert(session, Lot).values(
                store=store, location=location, product_id=product_id, lot_no=lot.lot_no,
                expiry_date=lot.expiry_date, qty=put, unit_cost_fen=lot.unit_cost_fen,
                received_at=now())
            await session.execute(stmt.on_conflict_do_update(
                index_elements=[Lot.store, Lot.location, Lot.product_id, Lot.lot_no],
                set_={"qty": Lot.qty + stmt.excluded.qty}))
        rows.append({**base, "lot_no": lot.lot_no, "qty": put})
        if left == 0:
            break
    if left:
        rows.append({**base, "lot_no": None, "qty": left})
    return rows
