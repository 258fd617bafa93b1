"""Flash sales (秒杀, MKT-2): a product at a deal price, limited stock, a per-shopper limit.

A purchase is one transaction that (1) takes the shopper's share,
``UPDATE buyers SET qty = qty + :n WHERE ... AND qty + :n <= per_user_limit`` (or inserts
the shopper's row; the primary key stops a parallel first purchase), (2) places the
mini-program order (``created``, waiting for payment, paid like any mini-program order)
and (3) takes the stock last, ``UPDATE sales SET sold = sold + :n WHERE id = :id AND
sold + :n <= stock``: one row changed or none, so however many buyers arrive at once
the sale never sells more than its stock. Any refusal raises and rolls the whole
purchase back.

An order never paid is cancelled by the mini-program close job
(:func:`cloud_bridge.mp_pay.service.close_unpaid`); :func:`release_cancelled` (run by the
same job) then gives its units back to the sale and to the shopper's limit, once.
"""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict, Unpack

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from .. import orders
from ..db import Database, rows_changed
from ..errors import Conflict, InvalidRequest, NotFound
from ..models import Order
from ..models import now as utcnow
from .deal_models import FlashBuyer, FlashOrder, FlashSale, GroupDeal

HELD, RELEASED = "held", "released"

# A flash sale or a group deal: both are priced, timed offers of one product.
Deal = FlashSale | GroupDeal


class DealFields(TypedDict):
    """What every new deal is made of (the fields of ``DealBody``)."""

    store: str | None
    product_id: str
    name_zh: str
    name_en: str | None
    list_price: int
    price: int
    starts_at: datetime
    ends_at: datetime


class SaleFields(DealFields):
    """What a new flash sale is made of (``FlashSaleBody``)."""

    stock: int
    per_user_limit: int


def deal_state(d: Deal, at: datetime) -> str:
    """``scheduled``, ``live`` or ``ended`` (a flash sale or a group deal)."""
    if d.ended_at is not None or d.ends_at <= at:
        return "ended"
    return "scheduled" if d.starts_at > at else "live"


def check_deal(fields: DealFields) -> None:
    """Refuse a deal that cannot work (400)."""
    if fields["ends_at"] <= fields["starts_at"]:
        raise InvalidRequest("ends_at must be after starts_at")
    if fields["ends_at"] <= utcnow():
        raise InvalidRequest("ends_at is in the past")
    if fields["price"] > fields["list_price"]:
        raise InvalidRequest("the deal price is above the list price")


async def create_sale(s: AsyncSession, *, created_by: str,
                      **fields: Unpack[SaleFields]) -> FlashSale:
    """A new flash sale."""
    check_deal(fields)
    if fields["per_user_limit"] > fields["stock"]:
        raise InvalidRequest("per_user_limit above stock")
    sale = FlashSale(created_by=created_by[:128], sold=0, created_at=utcnow(), **fields)
    s.add(sale)
    await s.flush()
    return sale


async def get_sale(s: AsyncSession, sale_id: int) -> FlashSale:
    """The flash sale; 404 when there is none."""
    sale = await s.get(FlashSale, sale_id)
    if sale is None:
        raise NotFound(f"flash sale {sale_id} not found")
    return sale


def deal_store(deal: Deal, store: str | None) -> str:
    """The store an order of ``deal`` is placed in: the deal's, or the shopper's pick."""
    if deal.store is not None:
        if store is not None and store != deal.store:
            raise Conflict(f"this deal is for store {deal.store}")
        return str(deal.store)
    if store is None:
        raise InvalidRequest("a chain-wide deal needs the store to pick the order up at")
    return store


async def deal_order(s: AsyncSession, deal: Deal, *, openid: str, store: str, qty: int,
                     tz: str) -> Order:
    """The mini-program order of ``qty`` units of a deal at its price (``created``)."""
    line = {"product_id": deal.product_id, "name_zh": deal.name_zh, "name_en": deal.name_en,
            "qty": qty, "unit_price": deal.list_price, "amount": deal.price * qty}
    return await orders.create_mp_order(s, openid=openid, store=store, lines=[line],
                                        fulfillment="pickup", shipping_address=None,
                                        note=None, tz=tz)


async def _take_share(s: AsyncSession, sale: FlashSale, openid: str, qty: int) -> None:
    grown = update(FlashBuyer).where(
        FlashBuyer.sale_id == sale.id, FlashBuyer.openid == openid,
        FlashBuyer.qty + qty <= sale.per_user_limit).values(qty=FlashBuyer.qty + qty)
    if await rows_changed(s, grown) == 1:
        return
    if await s.get(FlashBuyer, (sale.id, openid)) is not None or qty > sale.per_user_limit:
        raise Conflict(f"at most {sale.per_user_limit} per shopper in this flash sale")
    try:
        async with s.begin_nested():
            s.add(FlashBuyer(sale_id=sale.id, openid=openid, qty=qty))
    except IntegrityError:
        # The same shopper's parallel first purchase inserted the row: grow it instead.
        if await rows_changed(s, grown) != 1:
            raise Conflict(f"at most {sale.per_user_limit} per shopper in this flash sale"
                           ) from None


async def buy(db: Database, sale_id: int, *, openid: str, qty: int, store: str | None,
              tz: str) -> str:
    """Buy ``qty`` units of a live flash sale; the new order's number.

    Raises:
        NotFound: no such sale. Conflict: not live, sold out, over the shopper's limit,
        another store's sale. InvalidRequest: a chain-wide sale without a store.
    """
    async def work(s: AsyncSession) -> str:
        sale = await get_sale(s, sale_id)
        state = deal_state(sale, utcnow())
        if state != "live":
            raise Conflict(f"this flash sale is {state}")
        if sale.sold + qty > sale.stock:  # cheap early no; the update below decides
            raise Conflict("sold out")
        where = deal_store(sale, store)
        await _take_share(s, sale, openid, qty)
        order = await deal_order(s, sale, openid=openid, store=where, qty=qty, tz=tz)
        s.add(FlashOrder(order_no=order.order_no, sale_id=sale.id, openid=openid, qty=qty,
                         status=HELD, created_at=utcnow()))
        taken = await rows_changed(s, update(FlashSale).where(
            FlashSale.id == sale.id, FlashSale.sold + qty <= FlashSale.stock)
            .values(sold=FlashSale.sold + qty))
        if taken != 1:
            raise Conflict("sold out")
        return order.order_no

    return await db.transact(work)


async def release_cancelled(db: Database, limit: int = 500) -> int:
    """Give back the units of flash orders that were cancelled unpaid; how many orders.

    Every step is conditional (``held`` -> ``released`` once), so several workers may run
    it at the same time.
    """
    async with db.read() as s:
        due = (await s.execute(
            select(FlashOrder.order_no).join(Order, Order.order_no == FlashOrder.order_no)
            .where(FlashOrder.status == HELD, Order.status == orders.CANCELLED)
            .limit(limit))).scalars().all()
    done = 0
    for order_no in due:
        async def work(s: AsyncSession, order_no: str = order_no) -> int:
            fo = await s.get(FlashOrder, order_no)
            if fo is None or await rows_changed(s, update(FlashOrder).where(
                    FlashOrder.order_no == order_no, FlashOrder.status == HELD)
                    .values(status=RELEASED)) != 1:
                return 0
            await s.execute(update(FlashSale).where(FlashSale.id == fo.sale_id)
                            .values(sold=FlashSale.sold - fo.qty))
            await s.execute(update(FlashBuyer).where(
                FlashBuyer.sale_id == fo.sale_id, FlashBuyer.openid == fo.openid)
                .values(qty=FlashBuyer.qty - fo.qty))
            return 1

        done += await db.transact(work)
    return done
