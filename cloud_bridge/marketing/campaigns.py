"""Campaigns (MKT-4..7): kept here, compiled by the shared pricing engine, shipped with books.

* A campaign is created (now or scheduled), listed and ended early through the admin API
  (:mod:`.campaigns_api`) or the CLI. Its row becomes a :class:`contract.campaigns.Campaign`
  with id ``cmp<row id>``; validating that model is validating the campaign.
* :func:`with_campaigns` is what :func:`cloud_bridge.catalog.publish_book` calls: the book
  a store gets carries every campaign of that store and of the chain that has not ended
  (running, or scheduled: the engine applies it from its start, offline too), narrowed
  to the goods the store's book sells. Creating or ending a campaign republishes the
  current books of the stores it touches (:func:`republish`), so kiosks switch to a
  book with (or without) it.
* Every order that got a campaign discount is recorded (:func:`record_discounts`); the
  results (:func:`results`) count those orders as they are now.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import ValidationError
from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from contract.campaigns import Campaign

from ..errors import Conflict, InvalidRequest, NotFound
from ..models import Order
from ..models import now as utcnow
from .campaign_models import CampaignOrder, CampaignRecord

if TYPE_CHECKING:
    from contract.pricebook import PriceBook

    from ..orders import CompletedSale
    from .campaign_schemas import CampaignBody

PREFIX = "cmp"
_ID = re.compile(r"^cmp(\d{1,15})$")
SPEC_FIELDS = ("member_levels", "products", "categories", "exclude_categories", "off_bp",
               "price", "tiers")


def book_id(row_id: int) -> str:
    """The campaign's id in price books, on receipts and in order discounts."""
    return f"{PREFIX}{row_id}"


def row_id(discount_id: str) -> int | None:
    """The campaign row id of a discount id (``cmp12`` -> 12), else ``None``."""
    m = _ID.match(discount_id)
    return int(m.group(1)) if m else None


def status(c: CampaignRecord, at: datetime) -> str:
    """``scheduled``, ``running`` or ``ended`` at ``at``."""
    if c.ended_at is not None or (c.ends_at is not None and c.ends_at <= at):
        return "ended"
    if c.starts_at is not None and c.starts_at > at:
        return "scheduled"
    return "running"


def to_contract(c: CampaignRecord) -> Campaign:
    """The campaign as the price book carries it (an early end is its end)."""
    end = c.ended_at if c.ended_at is not None else c.ends_at
    return Campaign.model_validate({
        "campaign_id": book_id(c.id), "kind": c.kind, "label_zh": c.name_zh,
        "label_en": c.name_en, "start": c.starts_at, "end": end, **c.spec})


def check(body: CampaignBody) -> Campaign:
    """Refuse a campaign that cannot work (400), with the reason the engine gives."""
    try:
        return Campaign.model_validate({
            "campaign_id": "cmp0", "kind": body.kind, "label_zh": body.name_zh,
            "label_en": body.name_en, "start": body.starts_at, "end": body.ends_at,
            "member_levels": body.member_levels or (), "products": body.products or (),
            "categories": body.categories or (),
            "exclude_categories": body.exclude_categories or (),
            "tiers": [t.model_dump() for t in body.tiers] or (),
            "off_bp": body.off_bp, "price": body.price})
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        msg = first["msg"].removeprefix("Value error, ")
        raise InvalidRequest(f"{where + ': ' if where else ''}{msg}") from None


async def create(s: AsyncSession, *, created_by: str, body: CampaignBody) -> CampaignRecord:
    """A new campaign of ``body.store`` (``None``: the chain); it starts at ``starts_at``
    (now when absent)."""
    at = utcnow()
    ends = body.ends_at
    if ends is not None and ends <= at:
        raise InvalidRequest("ends_at is in the past")
    spec = check(body).model_dump(mode="json", include=set(SPEC_FIELDS))
    c = CampaignRecord(store=body.store, kind=body.kind, name_zh=body.name_zh,
                       name_en=body.name_en, spec=spec,
                       starts_at=body.starts_at or at, ends_at=ends,
                       created_by=created_by[:128], created_at=at)
    s.add(c)
    await s.flush()
    return c


async def get(s: AsyncSession, campaign_id: int) -> CampaignRecord:
    """The campaign; 404 when there is none."""
    c = await s.get(CampaignRecord, campaign_id)
    if c is None:
        raise NotFound(f"campaign {campaign_id} not found")
    return c


async def end(s: AsyncSession, c: CampaignRecord, actor: str) -> CampaignRecord:
    """End a running or scheduled campaign now (Conflict when it has ended)."""
    at = utcnow()
    if status(c, at) == "ended":
        raise Conflict(f"campaign {c.id} has ended")
    c.ended_at, c.ended_by = at, actor[:128]
    return c


def _live(store: str | None, at: datetime) -> list[ColumnElement[bool]]:
    """Conditions of the campaigns not ended at ``at`` (of ``store`` and the chain's)."""
    cond = [CampaignRecord.ended_at.is_(None),
            or_(CampaignRecord.ends_at.is_(None), CampaignRecord.ends_at > at)]
    if store is not None:
        cond.append(or_(CampaignRecord.store == store, CampaignRecord.store.is_(None)))
    return cond


async def with_campaigns(s: AsyncSession, store: str, book: PriceBook) -> PriceBook:
    """``book`` carrying the campaigns of ``store`` not ended now (what is published).

    Campaigns in the uploaded book under a ``cmp<n>`` id are replaced by the ones kept
    here; others the book came with stay.
    """
    from contract.pricebook import PriceBook

    rows = (await s.scalars(select(CampaignRecord).where(*_live(store, utcnow()))
                            .order_by(CampaignRecord.id))).all()
    ids = {p.product_id for p in book.products}
    cats = {p.category for p in book.products}
    kept = [c for c in book.campaigns if row_id(c.campaign_id) is None]
    for r in rows:
        fitted = to_contract(r).fitted(ids, cats)
        if fitted is not None:
            kept.append(fitted)
    if tuple(kept) == book.campaigns:
        return book
    return PriceBook.model_validate({**book.model_dump(), "campaigns": kept})


# --------------------------------------------------------------------------- results


async def record_discounts(s: AsyncSession, *, store: str, order_no: str,
                           member_id: str | None, discounts: Iterable[tuple[str, int]],
                           at: datetime | None = None) -> int:
    """Record the campaign discounts (``(id, fen)``) one order got; how many."""
    wanted: dict[int, int] = {}
    for did, amount in discounts:
        rid = row_id(did)
        if rid is not None and amount > 0:
            wanted[rid] = wanted.get(rid, 0) + amount
    if not wanted:
        return 0
    known = set(await s.scalars(select(CampaignRecord.id).where(
        CampaignRecord.id.in_(wanted))))
    seen = set(await s.scalars(select(CampaignOrder.campaign_id).where(
        CampaignOrder.order_no == order_no, CampaignOrder.campaign_id.in_(known))))
    n = 0
    for rid in sorted(known - seen):
        s.add(CampaignOrder(campaign_id=rid, order_no=order_no, store=store,
                            member_id=member_id, discount=wanted[rid], at=at or utcnow()))
        n += 1
    return n


async def record_kiosk_sales(s: AsyncSession, sales: Iterable[CompletedSale]) -> int:
    """Campaign discounts of newly ingested kiosk sales (``orders.CompletedSale``)."""
    n = 0
    for sale in sales:
        d = sale.data
        n += await record_discounts(s, store=sale.event.store, order_no=d.order_no,
                                    member_id=d.member_id, at=d.completed_at,
                                    discounts=((x.id, x.amount) for x in d.discounts))
    return n


@dataclass(frozen=True, slots=True)
class Results:
    """What one campaign did, counted from its orders as they are now."""

    orders: int  # sold orders that got the campaign
    revenue: int  # fen those orders brought in, refunds taken off
    discount_cost: int  # fen the campaign gave on them
    members: int  # distinct members among them
    new_members: int  # members who registered in its stores during it
    eligible_orders: int  # sold orders in its stores during it
    redemption_rate: float  # orders / eligible_orders


async def results(s: AsyncSession, c: CampaignRecord, at: datetime | None = None) -> Results:
    """The campaign's results so far (see :class:`Results`)."""
    from .. import orders as order_rules
    from ..members.models import MemberRecord

    at = at or utcnow()
    sold = Order.status.in_(order_rules.SOLD)
    row = (await s.execute(
        select(func.count(CampaignOrder.id),
               func.coalesce(func.sum(Order.total - Order.refunded_total), 0),
               func.coalesce(func.sum(CampaignOrder.discount), 0),
               func.count(func.distinct(CampaignOrder.member_id)))
        .join(Order, Order.order_no == CampaignOrder.order_no)
        .where(CampaignOrder.campaign_id == c.id, sold))).one()
    start = c.starts_at or c.created_at
    stop = min(x for x in (c.ended_at, c.ends_at, at) if x is not None)
    window = [Order.created_at >= start, Order.created_at < stop, sold]
    if c.store is not None:
        window.append(Order.store == c.store)
    eligible = await s.scalar(select(func.count()).select_from(Order).where(*window)) or 0
    joined = [MemberRecord.registered_at >= start, MemberRecord.registered_at < stop]
    if c.store is not None:
        joined.append(MemberRecord.home_store == c.store)
    new = await s.scalar(select(func.count()).select_from(MemberRecord)
                         .where(and_(*joined))) or 0
    orders_n = int(row[0])
    return Results(orders=orders_n, revenue=int(row[1]), discount_cost=int(row[2]),
                   members=int(row[3]), new_members=int(new), eligible_orders=int(eligible),
                   redemption_rate=round(orders_n / eligible, 4) if eligible else 0.0)
