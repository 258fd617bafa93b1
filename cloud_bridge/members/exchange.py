"""Points exchange (积分兑换, MKT-8): points buy a coupon or a product picked up in a store.

One exchange is one transaction: the exchange row (unique per (member, request id), so a
retried request returns the first answer; and per (item, member, sequence) for the
per-member limit), one slot of the item's stock (``UPDATE ... WHERE issued < stock``),
one ledger line debiting the points (``points.redeem``: ``WHERE points >= n``, never
negative under concurrency) and, for a coupon, marketing's own claim. Any refusal rolls
all of it back: points are never taken for nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict, Unpack

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from common.jsontypes import JsonObject

from .. import inventory
from ..db import rows_changed
from ..errors import Conflict, InvalidRequest, NotFound
from ..models import now as utcnow
from . import points
from .models import MemberRecord
from .models_programs import Exchange, ExchangeItem

ISSUED, AWAITING_PICKUP, PICKED_UP = "issued", "awaiting_pickup", "picked_up"


class ItemFields(TypedDict):
    """What a new exchange item is made of (the fields of ``ItemBody``)."""

    store: str | None
    kind: str
    coupon_template_id: int | None
    product_id: str | None
    name_zh: str
    name_en: str
    points: int
    stock: int
    per_member_limit: int


async def create_item(s: AsyncSession, *, created_by: str,
                      **fields: Unpack[ItemFields]) -> ExchangeItem:
    """A new item; a coupon item names a template, a product item a product and a store."""
    if fields["kind"] == "coupon":
        from ..marketing.service import get_template

        template_id = fields.get("coupon_template_id")
        if template_id is None:
            raise InvalidRequest("a coupon item needs coupon_template_id")
        try:
            t = await get_template(s, template_id)
        except NotFound as err:
            raise InvalidRequest(str(err)) from None
        if t.store is not None and t.store != fields.get("store"):
            raise InvalidRequest("the coupon template belongs to another store")
        fields["product_id"] = None
    else:
        if not fields.get("product_id") or not fields.get("store"):
            raise InvalidRequest("a product item needs product_id and the store it is "
                                 "picked up in")
        fields["coupon_template_id"] = None
    if fields["per_member_limit"] > fields["stock"]:
        raise InvalidRequest("per_member_limit above stock")
    item = ExchangeItem(created_by=created_by, issued=0, status="active",
                        created_at=utcnow(), **fields)
    s.add(item)
    await s.flush()
    return item


async def get_item(s: AsyncSession, item_id: int) -> ExchangeItem:
    item = await s.get(ExchangeItem, item_id)
    if item is None:
        raise NotFound(f"exchange item {item_id} not found")
    return item


async def redeem(s: AsyncSession, member: MemberRecord, item_id: int, request_id: str,
                 at: datetime | None = None) -> Exchange:
    """Exchange points for the item, exactly once per ``request_id``.

    Raises:
        NotFound: no such item. Conflict: paused, sold out, the member's limit reached,
        not enough points, or the coupon could not be claimed (nothing changes then).
    """
    at = at or utcnow()
    before = await s.scalar(select(Exchange).where(Exchange.member_id == member.id,
                                                   Exchange.request_id == request_id))
    if before is not None:
        if before.item_id != item_id:
            raise Conflict("this request id was used for another item")
        return before
    item = await get_item(s, item_id)
    if item.status != "active":
        raise Conflict("this item is not being exchanged now")
    held = await s.scalar(select(func.count()).select_from(Exchange).where(
        Exchange.item_id == item.id, Exchange.member_id == member.id)) or 0
    if held >= item.per_member_limit:
        raise Conflict("you have exchanged this item as often as allowed")
    ex = Exchange(item_id=item.id, member_id=member.id, request_id=request_id, seq=held + 1,
                  points=item.points, store=item.store, created_at=at,
                  status=ISSUED if item.kind == "coupon" else AWAITING_PICKUP)
    try:
        async with s.begin_nested():
            s.add(ex)
    except IntegrityError:
        # A parallel request of the member: the same request id, or the last slot.
        again = await s.scalar(select(Exchange).where(Exchange.member_id == member.id,
                                                      Exchange.request_id == request_id))
        if again is not None and again.item_id == item_id:
            return again
        raise Conflict("another exchange of this item is being made for you: "
                       "try again") from None
    if await rows_changed(s, update(ExchangeItem).where(
            ExchangeItem.id == item.id, ExchangeItem.issued < ExchangeItem.stock)
            .values(issued=ExchangeItem.issued + 1)) != 1:
        raise Conflict("this item is sold out")
    await points.redeem(s, member.id, item.points, f"exchange:{ex.id}")
    if item.kind == "coupon":
        assert item.coupon_template_id is not None
        from ..marketing import service as coupons
        from ..marketing.api import _ranks

        t = await coupons.get_template(s, item.coupon_template_id)
        rank, need = await _ranks(s, member.id, t.min_level)
        coupon = await coupons.claim(s, t.id, member.id, level_rank=rank, min_level_rank=need,
                                     channel="points", at=at)
        ex.coupon_id = coupon.id
    await s.flush()
    return ex


async def hand_over(s: AsyncSession, exchange_id: int, actor: str,
                    store_scope: str | None) -> Exchange:
    """Staff hand the product over: once, and the store's stock goes down by one."""
    ex = await s.get(Exchange, exchange_id)
    if ex is None or (store_scope is not None and ex.store != store_scope):
        raise NotFound(f"exchange {exchange_id} not found")
    item = await get_item(s, ex.item_id)
    if item.kind != "product":
        raise Conflict("a coupon exchange has nothing to hand over")
    at = utcnow()
    if await rows_changed(s, update(Exchange).where(
            Exchange.id == ex.id, Exchange.status == AWAITING_PICKUP)
            .values(status=PICKED_UP, handed_over_by=actor, handed_over_at=at)) != 1:
        raise Conflict("this exchange was handed over already")
    assert ex.store is not None and item.product_id is not None
    key = (ex.store, item.product_id)
    await inventory.apply_deltas(s, {key: -1}, source="points_exchange",
                                 context={key: {"exchange_id": ex.id}})
    await s.refresh(ex)
    return ex


def item_json(item: ExchangeItem) -> JsonObject:
    return {"id": item.id, "store": item.store, "kind": item.kind,
            "coupon_template_id": item.coupon_template_id, "product_id": item.product_id,
            "name_zh": item.name_zh, "name_en": item.name_en, "points": item.points,
            "stock": item.stock, "left": item.stock - item.issued,
            "per_member_limit": item.per_member_limit, "status": item.status,
            "created_at": item.created_at.isoformat()}


def exchange_json(ex: Exchange) -> JsonObject:
    return {"id": ex.id, "item_id": ex.item_id, "member_id": ex.member_id,
            "request_id": ex.request_id, "points": ex.points, "store": ex.store,
            "coupon_id": ex.coupon_id, "status": ex.status,
            "handed_over_at": ex.handed_over_at.isoformat() if ex.handed_over_at else None,
            "created_at": ex.created_at.isoformat()}
