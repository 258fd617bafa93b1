"""Flash sale (秒杀) and group buying (拼团) routes.

Staff (``/api/v1/admin/marketing/flash-sales``, ``.../group-deals``): create, list, look
at, end; head office for the chain or any store, store staff for their store (they see
the chain's too). Shoppers (``/api/v1/mp/flash-sales``, ``/api/v1/mp/group-deals``,
``/api/v1/mp/groups``): the live deals of a store, buy, open or join a group, look at a
group (shared with friends: it shows no one's identity, only whether the caller is in it).
Orders are ordinary mini-program orders, paid with ``POST /api/v1/mp/orders/{no}/pay``.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from common.jsontypes import JsonObject

from .. import keys
from ..errors import Forbidden, NotFound
from ..models import Order
from ..models import now as utcnow
from ..openapi import Call, Route
from . import campaign_schemas as schemas
from . import flash, groups
from .deal_models import BuyingGroup, FlashSale, GroupDeal, GroupMember

A = "/api/v1/admin/marketing"
M = "/api/v1/mp"
SALE = {"sale_id": {"type": "integer", "minimum": 1, "maximum": 10**15}}
DEAL = {"deal_id": {"type": "integer", "minimum": 1, "maximum": 10**15}}
GROUP = {"group_id": {"type": "integer", "minimum": 1, "maximum": 10**15}}
DEAL_FIELDS = ("id", "store", "product_id", "name_zh", "name_en", "list_price", "price",
               "starts_at", "ends_at", "ended_at")


def _iso(v: object) -> object:
    return v.isoformat() if isinstance(v, date) else v


def _deal(d: flash.Deal, *extra: str) -> JsonObject:
    return {**{f: _iso(getattr(d, f)) for f in (*DEAL_FIELDS, *extra)},
            "state": flash.deal_state(d, utcnow())}


def sale_json(sale: FlashSale) -> JsonObject:
    """A flash sale as the API shows it."""
    return _deal(sale, "stock", "sold", "per_user_limit")


def group_deal_json(deal: GroupDeal, counts: dict[str, int] | None = None) -> JsonObject:
    """A group deal as the API shows it, with its groups counted by status."""
    return {**_deal(deal, "group_size", "group_ttl_s"), "groups": counts or {}}


def _scope(call: Call, store: str | None) -> str | None:
    p = call.principal
    if store is None and not p.chain_wide:
        raise Forbidden("store staff run deals for their own store only: give store")
    if store is not None:
        p.check_store(store)
    return store


def _visible(call: Call, deal: flash.Deal, what: str) -> None:
    p = call.principal
    # Another store's deal is "not found" for store staff (ids do not leak).
    if deal.store is not None and not p.chain_wide and deal.store != p.store:
        raise NotFound(f"{what} {deal.id} not found")


def _end(call: Call, deal: flash.Deal, what: str) -> None:
    from ..errors import Conflict

    _visible(call, deal, what)
    if deal.store is None and not call.principal.chain_wide:
        raise Forbidden(f"only head office ends chain-wide {what}s")
    if flash.deal_state(deal, utcnow()) == "ended":
        raise Conflict(f"{what} {deal.id} has ended")
    deal.ended_at = utcnow()


def _listed(call: Call,
            model: type[FlashSale] | type[GroupDeal]) -> list[ColumnElement[bool]]:
    store = call.principal.store_scope(call.query_as(schemas.DealsQuery).store)
    return [] if store is None else [or_(model.store == store, model.store.is_(None))]


# --------------------------------------------------------------------------- staff


async def create_flash_sale(call: Call) -> JsonObject:
    """A new flash sale."""
    b = call.body_as(schemas.FlashSaleBody).model_dump()
    b["store"] = _scope(call, b["store"])
    async with call.app[keys.DB_KEY].session() as s:
        return sale_json(await flash.create_sale(s, created_by=call.principal.actor, **b))


async def list_flash_sales(call: Call) -> JsonObject:
    """Flash sales, newest first (store staff: their store's and the chain's)."""
    cond, q = _listed(call, FlashSale), call.query_as(schemas.DealsQuery)
    async with call.app[keys.DB_KEY].read() as s:
        total = await s.scalar(select(func.count()).select_from(FlashSale).where(*cond))
        rows = (await s.scalars(select(FlashSale).where(*cond).order_by(FlashSale.id.desc())
                                .limit(q.limit).offset(q.offset))).all()
    return {"total": total, "items": [sale_json(x) for x in rows]}


async def get_flash_sale(call: Call) -> JsonObject:
    """One flash sale with its stock sold."""
    async with call.app[keys.DB_KEY].read() as s:
        sale = await flash.get_sale(s, int(call.path["sale_id"]))
    _visible(call, sale, "flash sale")
    return sale_json(sale)


async def end_flash_sale(call: Call) -> JsonObject:
    """End a flash sale now: nobody can buy any more (orders placed stay)."""
    async with call.app[keys.DB_KEY].session() as s:
        sale = await flash.get_sale(s, int(call.path["sale_id"]))
        _end(call, sale, "flash sale")
        return sale_json(sale)


async def _group_counts(s: AsyncSession, deal_id: int) -> dict[str, int]:
    rows = await s.execute(select(BuyingGroup.status, func.count())
                           .where(BuyingGroup.deal_id == deal_id).group_by(BuyingGroup.status))
    return {st: int(n) for st, n in rows}


async def create_group_deal(call: Call) -> JsonObject:
    """A new group deal."""
    b = call.body_as(schemas.GroupDealBody).model_dump()
    b["store"] = _scope(call, b["store"])
    async with call.app[keys.DB_KEY].session() as s:
        deal = await groups.create_deal(s, created_by=call.principal.actor, **b)
        return group_deal_json(deal)


async def list_group_deals(call: Call) -> JsonObject:
    """Group deals, newest first (store staff: their store's and the chain's)."""
    cond, q = _listed(call, GroupDeal), call.query_as(schemas.DealsQuery)
    async with call.app[keys.DB_KEY].read() as s:
        total = await s.scalar(select(func.count()).select_from(GroupDeal).where(*cond))
        rows = (await s.scalars(select(GroupDeal).where(*cond).order_by(GroupDeal.id.desc())
                                .limit(q.limit).offset(q.offset))).all()
        return {"total": total,
                "items": [group_deal_json(d, await _group_counts(s, d.id)) for d in rows]}


async def get_group_deal(call: Call) -> JsonObject:
    """One group deal with its groups by status."""
    async with call.app[keys.DB_KEY].read() as s:
        deal = await groups.get_deal(s, int(call.path["deal_id"]))
        _visible(call, deal, "group deal")
        return group_deal_json(deal, await _group_counts(s, deal.id))


async def end_group_deal(call: Call) -> JsonObject:
    """End a group deal now: no new groups (open groups run to their expiry)."""
    async with call.app[keys.DB_KEY].session() as s:
        deal = await groups.get_deal(s, int(call.path["deal_id"]))
        _end(call, deal, "group deal")
        return group_deal_json(deal, await _group_counts(s, deal.id))


# --------------------------------------------------------------------------- shoppers


def _live(model: type[FlashSale] | type[GroupDeal], store: str) -> list[ColumnElement[bool]]:
    at = utcnow()
    return [or_(model.store == store, model.store.is_(None)), model.ended_at.is_(None),
            model.starts_at <= at, model.ends_at > at]


async def shop_flash_sales(call: Call) -> JsonObject:
    """The flash sales live now in a store."""
    store = call.query_as(schemas.ShopDealsQuery).store
    async with call.app[keys.DB_KEY].read() as s:
        rows = (await s.scalars(select(FlashSale).where(*_live(FlashSale, store))
                                .order_by(FlashSale.ends_at, FlashSale.id))).all()
    return {"total": len(rows), "items": [sale_json(x) for x in rows]}


async def _order_json(call: Call, order_no: str, group_id: int | None = None) -> JsonObject:
    async with call.app[keys.DB_KEY].read() as s:
        total = await s.scalar(select(Order.total).where(Order.order_no == order_no))
    return {"order_no": order_no, "total": total, "group_id": group_id}


async def buy_flash_sale(call: Call) -> JsonObject:
    """Buy in a flash sale: a mini-program order at the flash price, to pay in time."""
    b = call.body_as(schemas.BuyBody)
    no = await flash.buy(call.app[keys.DB_KEY], int(call.path["sale_id"]), openid=call.openid,
                         qty=b.qty, store=b.store,
                         tz=call.app[keys.CONFIG_KEY].bridge.timezone)
    return await _order_json(call, no)


async def shop_group_deals(call: Call) -> JsonObject:
    """The group deals live now in a store."""
    store = call.query_as(schemas.ShopDealsQuery).store
    async with call.app[keys.DB_KEY].read() as s:
        rows = (await s.scalars(select(GroupDeal).where(*_live(GroupDeal, store))
                                .order_by(GroupDeal.ends_at, GroupDeal.id))).all()
    return {"total": len(rows), "items": [group_deal_json(d) for d in rows]}


async def open_buying_group(call: Call) -> JsonObject:
    """Open a group with the caller in its first seat (and their order)."""
    seat = await groups.open_group(call.app[keys.DB_KEY], int(call.path["deal_id"]),
                                   openid=call.openid,
                                   store=call.body_as(schemas.OpenGroupBody).store,
                                   tz=call.app[keys.CONFIG_KEY].bridge.timezone)
    return await _order_json(call, seat.order_no, seat.group_id)


async def join_buying_group(call: Call) -> JsonObject:
    """Take a seat in a forming group (and an order)."""
    seat = await groups.join_group(call.app[keys.DB_KEY], int(call.path["group_id"]),
                                   openid=call.openid,
                                   tz=call.app[keys.CONFIG_KEY].bridge.timezone)
    return await _order_json(call, seat.order_no, seat.group_id)


async def view_buying_group(call: Call) -> JsonObject:
    """A group as a shared link shows it: deal, seats, status; no members' identities."""
    async with call.app[keys.DB_KEY].read() as s:
        g = await groups.get_group(s, int(call.path["group_id"]))
        deal = await groups.get_deal(s, g.deal_id)
        mine = await s.scalar(select(GroupMember.id).where(
            GroupMember.group_id == g.id, GroupMember.openid == call.openid))
    return {"id": g.id, "deal_id": deal.id, "store": g.store, "name_zh": deal.name_zh,
            "price": deal.price, "size": g.size, "seats": g.seats, "status": g.status,
            "expires_at": g.expires_at.isoformat(), "mine": mine is not None}


_REFUSED_BUY = {404: "no such deal or group",
                409: "not live, sold out or full, over the limit, or another store's deal",
                400: "a chain-wide deal needs the store"}
ROUTES = [
    Route("POST", f"{A}/flash-sales", create_flash_sale, "Create a flash sale", "marketing",
          body=schemas.FlashSaleBody, status=201, response=schemas.MktFlashSale, auth="admin"),
    Route("GET", f"{A}/flash-sales", list_flash_sales, "Flash sales", "marketing",
          query=schemas.DealsQuery, response=schemas.MktFlashSaleList, auth="admin"),
    Route("GET", f"{A}/flash-sales/{{sale_id}}", get_flash_sale, "One flash sale",
          "marketing", path_params=SALE, response=schemas.MktFlashSale, auth="admin"),
    Route("POST", f"{A}/flash-sales/{{sale_id}}/end", end_flash_sale, "End a flash sale",
          "marketing", path_params=SALE, response=schemas.MktFlashSale,
          responses={409: "it has ended"}, auth="admin"),
    Route("POST", f"{A}/group-deals", create_group_deal, "Create a group deal", "marketing",
          body=schemas.GroupDealBody, status=201, response=schemas.MktGroupDeal, auth="admin"),
    Route("GET", f"{A}/group-deals", list_group_deals, "Group deals", "marketing",
          query=schemas.DealsQuery, response=schemas.MktGroupDealList, auth="admin"),
    Route("GET", f"{A}/group-deals/{{deal_id}}", get_group_deal, "One group deal",
          "marketing", path_params=DEAL, response=schemas.MktGroupDeal, auth="admin"),
    Route("POST", f"{A}/group-deals/{{deal_id}}/end", end_group_deal, "End a group deal",
          "marketing", path_params=DEAL, response=schemas.MktGroupDeal,
          responses={409: "it has ended"}, auth="admin"),
    Route("GET", f"{M}/flash-sales", shop_flash_sales, "Flash sales live in a store",
          "marketing", auth="mp", query=schemas.ShopDealsQuery,
          response=schemas.MktFlashSaleList),
    Route("POST", f"{M}/flash-sales/{{sale_id}}/buy", buy_flash_sale, "Buy in a flash sale",
          "marketing", auth="mp", path_params=SALE, body=schemas.BuyBody, status=201,
          response=schemas.MktDealOrder, responses=_REFUSED_BUY),
    Route("GET", f"{M}/group-deals", shop_group_deals, "Group deals live in a store",
          "marketing", auth="mp", query=schemas.ShopDealsQuery,
          response=schemas.MktGroupDealList),
    Route("POST", f"{M}/group-deals/{{deal_id}}/groups", open_buying_group, "Open a group",
          "marketing", auth="mp", path_params=DEAL, body=schemas.OpenGroupBody, status=201,
          response=schemas.MktDealOrder, responses=_REFUSED_BUY),
    Route("POST", f"{M}/groups/{{group_id}}/join", join_buying_group, "Join a group",
          "marketing", auth="mp", path_params=GROUP, status=201,
          response=schemas.MktDealOrder, responses=_REFUSED_BUY),
    Route("GET", f"{M}/groups/{{group_id}}", view_buying_group, "A group (shared link)",
          "marketing", auth="mp", path_params=GROUP, response=schemas.MktGroup,
          responses={404: "no such group"}),
]
