"""Campaign routes for staff (``/api/v1/admin/marketing/campaigns``): create (now or
scheduled), list, look at, end early, results.

Head office runs chain-wide campaigns (no store) and any store's; store staff run and
see only their store's, and see the chain's. Creating or ending a campaign republishes
the current price book of the stores it touches and announces it to their kiosks.
"""

from __future__ import annotations

import logging

import aiomqtt
from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from common.jsontypes import JsonObject

from .. import catalog, keys
from ..errors import Forbidden, NotFound
from ..models import now as utcnow
from ..openapi import Call, Route
from . import campaign_publish
from . import campaign_schemas as schemas
from . import campaigns as service
from .campaign_models import CampaignRecord

log = logging.getLogger(__name__)

A = "/api/v1/admin/marketing/campaigns"
CMP = {"campaign_id": {"type": "integer", "minimum": 1, "maximum": 10**15}}


def campaign_json(c: CampaignRecord, republished: list[str] | None = None) -> JsonObject:
    """The campaign as the API shows it."""
    spec = c.spec or {}
    return {"id": c.id, "campaign_id": service.book_id(c.id), "store": c.store, "kind": c.kind,
            "name_zh": c.name_zh, "name_en": c.name_en,
            "status": service.status(c, utcnow()),
            "starts_at": c.starts_at.isoformat() if c.starts_at else None,
            "ends_at": c.ends_at.isoformat() if c.ends_at else None,
            "ended_at": c.ended_at.isoformat() if c.ended_at else None,
            **{k: list(spec.get(k) or []) for k in ("member_levels", "products", "categories",
                                                    "exclude_categories", "tiers")},
            "off_bp": spec.get("off_bp"), "price": spec.get("price"),
            "created_by": c.created_by, "created_at": c.created_at.isoformat(),
            "republished": republished or []}


async def _visible(s: AsyncSession, call: Call) -> CampaignRecord:
    c = await service.get(s, int(call.path["campaign_id"]))
    p = call.principal
    # Another store's campaign is "not found" for store staff (ids do not leak).
    if c.store is not None and not p.chain_wide and c.store != p.store:
        raise NotFound(f"campaign {c.id} not found")
    return c


async def _ship(call: Call, store: str | None) -> list[str]:
    """Republish the touched stores' books and announce them (when the broker is up)."""
    db, config = call.app[keys.DB_KEY], call.app[keys.CONFIG_KEY]
    stores = await campaign_publish.republish(db, store, call.principal.actor)
    ingest = call.app.get(keys.INGEST_KEY)
    if stores and ingest is not None and ingest.connected.is_set():
        try:
            async with call.app[keys.SERVICES_KEY].catalog_announce_lock:
                for st in stores:
                    await catalog.announce_current(db, config, ingest.publish, st)
        except aiomqtt.MqttError as err:  # the next (re)connect announces them
            log.warning("campaign books stored, not announced yet: %s", err)
    return stores


async def create_campaign(call: Call) -> JsonObject:
    """A new campaign, shipped with the price books of the stores it runs in."""
    b = call.body_as(schemas.CampaignBody)
    p = call.principal
    store = b.store
    if store is None and not p.chain_wide:
        raise Forbidden("store staff run campaigns for their own store only: give store")
    if store is not None:
        p.check_store(store)
    async with call.app[keys.DB_KEY].session() as s:
        c = await service.create(s, created_by=p.actor, body=b)
    stores = await _ship(call, store)
    async with call.app[keys.DB_KEY].read() as s:
        return campaign_json(await service.get(s, c.id), stores)


async def list_campaigns(call: Call) -> JsonObject:
    """Campaigns, newest first (store staff: their store's and the chain's)."""
    q = call.query_as(schemas.CampaignsQuery)
    store = call.principal.store_scope(q.store)
    cond: list[ColumnElement[bool]] = [] if store is None else [or_(CampaignRecord.store == store,
                                                    CampaignRecord.store.is_(None))]
    at = utcnow()
    ended = or_(CampaignRecord.ended_at.is_not(None),
                CampaignRecord.ends_at.is_not(None) & (CampaignRecord.ends_at <= at))
    if q.status == "ended":
        cond.append(ended)
    elif q.status == "scheduled":
        cond += [~ended, CampaignRecord.starts_at > at]
    elif q.status == "running":
        cond += [~ended, CampaignRecord.starts_at <= at]
    async with call.app[keys.DB_KEY].read() as s:
        total = await s.scalar(select(func.count()).select_from(CampaignRecord).where(*cond))
        rows = (await s.scalars(select(CampaignRecord).where(*cond)
                                .order_by(CampaignRecord.id.desc())
                                .limit(q.limit).offset(q.offset))).all()
        return {"total": total, "items": [campaign_json(c) for c in rows]}


async def get_campaign(call: Call) -> JsonObject:
    """One campaign."""
    async with call.app[keys.DB_KEY].read() as s:
        return campaign_json(await _visible(s, call))


async def end_campaign(call: Call) -> JsonObject:
    """End a running or scheduled campaign now; the books are republished without it."""
    p = call.principal
    async with call.app[keys.DB_KEY].session() as s:
        c = await _visible(s, call)
        if c.store is None and not p.chain_wide:
            raise Forbidden("only head office ends chain-wide campaigns")
        await service.end(s, c, p.actor)
        cid, store = c.id, c.store
    stores = await _ship(call, store)
    async with call.app[keys.DB_KEY].read() as s:
        return campaign_json(await service.get(s, cid), stores)


async def campaign_results(call: Call) -> JsonObject:
    """Orders, revenue, discount cost, new members and redemption rate of a campaign."""
    async with call.app[keys.DB_KEY].read() as s:
        c = await _visible(s, call)
        r = await service.results(s, c)
    return {"id": c.id, "campaign_id": service.book_id(c.id), "orders": r.orders,
            "revenue": r.revenue, "discount_cost": r.discount_cost, "members": r.members,
            "new_members": r.new_members, "eligible_orders": r.eligible_orders,
            "redemption_rate": r.redemption_rate}


ROUTES = [
    Route("POST", A, create_campaign, "Create a campaign", "marketing", auth="admin",
          body=schemas.CampaignBody, status=201, response=schemas.MktCampaign,
          responses={400: "a campaign that cannot work (the reason says why)"}),
    Route("GET", A, list_campaigns, "Campaigns", "marketing", auth="admin",
          query=schemas.CampaignsQuery, response=schemas.MktCampaignList),
    Route("GET", f"{A}/{{campaign_id}}", get_campaign, "One campaign", "marketing",
          auth="admin", path_params=CMP, response=schemas.MktCampaign),
    Route("POST", f"{A}/{{campaign_id}}/end", end_campaign, "End a campaign now",
          "marketing", auth="admin", path_params=CMP, response=schemas.MktCampaign,
          responses={409: "the campaign has ended"}),
    Route("GET", f"{A}/{{campaign_id}}/results", campaign_results, "A campaign's results",
          "marketing", auth="admin", path_params=CMP, response=schemas.MktCampaignResults),
]
