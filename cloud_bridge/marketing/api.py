"""Coupon routes: templates and batch issue for staff (``/api/v1/admin/marketing``), claim
and my coupons for shoppers (``/api/v1/mp/coupons``).

Head office makes chain-wide templates (no store); store staff make and see only their
store's. A shopper needs a membership (members domain) to hold coupons.
"""

from __future__ import annotations

import time
from datetime import date

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from common.jsontypes import JsonObject

from .. import keys
from ..db import Database
from ..errors import Forbidden, NotFound
from ..openapi import Call, Route
from . import campaigns_api, deals_api, schemas, service
from .models import Coupon, CouponTemplate

A = "/api/v1/admin/marketing"
M = "/api/v1/mp/coupons"
TEMPLATE_FIELDS = ("id", "store", "name_zh", "name_en", "kind", "value", "cap", "threshold",
                   "categories", "exclude_categories", "valid_from", "valid_until",
                   "valid_days", "total_limit", "per_user_limit", "min_level", "stackable",
                   "status", "issued", "created_at")


def _db(call: Call) -> Database:
    return call.app[keys.DB_KEY]


def _iso(v: object) -> object:
    return v.isoformat() if isinstance(v, date) else v


def template_json(t: CouponTemplate, used: int) -> JsonObject:
    """The template as the API shows it, with how many of its coupons were used."""
    return {**{f: _iso(getattr(t, f)) for f in TEMPLATE_FIELDS}, "used": used}


def coupon_json(c: Coupon, t: CouponTemplate) -> JsonObject:
    """One claimed coupon with what it gives."""
    return {"id": c.id, "template_id": t.id, "name_zh": t.name_zh, "name_en": t.name_en,
            "kind": t.kind, "value": t.value, "cap": t.cap, "threshold": t.threshold,
            "stackable": t.stackable, "status": c.status, "channel": c.channel,
            "order_no": c.order_no, "valid_from": c.valid_from.isoformat(),
            "valid_until": c.valid_until.isoformat(), "claimed_at": c.claimed_at.isoformat()}


async def _visible_template(s: AsyncSession, call: Call) -> CouponTemplate:
    t = await service.get_template(s, int(call.path["template_id"]))
    p = call.principal
    # Another store's template is "not found" for store staff (ids do not leak).
    if t.store is not None and not p.chain_wide and t.store != p.store:
        raise NotFound(f"coupon template {t.id} not found")
    return t


async def _ranks(s: AsyncSession, member_id: str | None, min_level: str | None) -> tuple[int, int | None]:
    """(the member's rung, the rung the template asks for) on the member ladder."""
    from ..members import service as members
    from ..members.models import MemberRecord

    prog = await members.program(s)
    order = [lv.code for lv in prog.levels]
    m = await s.get(MemberRecord, member_id) if member_id else None
    rank = order.index(m.level) if m is not None and m.level in order else 0
    need = None
    if min_level is not None:
        need = order.index(min_level) if min_level in order else len(order)
    return rank, need


async def create_template(call: Call) -> JsonObject:
    """A new coupon template: head office for the chain, store staff for their store."""
    b = call.body_as(schemas.TemplateBody).model_dump()
    p = call.principal
    if b["store"] is None and not p.chain_wide:
        raise Forbidden("store staff make coupons for their own store only: give store")
    if b["store"] is not None:
        p.check_store(b["store"])
    async with _db(call).session() as s:
        t = await service.create_template(s, created_by=p.actor, **b)
        return template_json(t, 0)


async def list_templates(call: Call) -> JsonObject:
    """Templates, newest first (store staff: their store's and the chain's)."""
    q = call.query_as(schemas.TemplatesQuery)
    store = call.principal.store_scope(q.store)
    cond = [] if store is None else [or_(CouponTemplate.store == store,
                                         CouponTemplate.store.is_(None))]
    async with _db(call).session() as s:
        total = await s.scalar(select(func.count()).select_from(CouponTemplate).where(*cond))
        rows = (await s.scalars(select(CouponTemplate).where(*cond)
                                .order_by(CouponTemplate.id.desc())
                                .limit(q.limit).offset(q.offset))).all()
        return {"total": total,
                "items": [template_json(t, await service.used_count(s, t.id)) for t in rows]}


async def get_template(call: Call) -> JsonObject:
    """One template with its counters (issued, used)."""
    async with _db(call).session() as s:
        t = await _visible_template(s, call)
        return template_json(t, await service.used_count(s, t.id))


async def issue_batch(call: Call) -> JsonObject:
    """Give one coupon of the template to each listed member (each at most its limit)."""
    from ..errors import BridgeError

    db = _db(call)
    async with db.session() as s:
        t = await _visible_template(s, call)
        if t.store is None and not call.principal.chain_wide:
            raise Forbidden("only head office issues chain-wide coupons")
    issued, refused = 0, {}
    for member_id in dict.fromkeys(call.body_as(schemas.IssueBody).member_ids):
        async def one(s: AsyncSession, member_id: str = member_id) -> None:
            from ..members.models import MemberRecord

            if await s.get(MemberRecord, member_id) is None:
                raise NotFound("no such member")
            rank, need = await _ranks(s, member_id, t.min_level)
            await service.claim(s, t.id, member_id, level_rank=rank, min_level_rank=need,
                                channel="batch")
        try:
            await db.transact(one)
            issued += 1
        except BridgeError as err:
            refused[member_id] = str(err)
    return {"issued": issued, "refused": refused}


async def _member_id(s: AsyncSession, call: Call) -> str:
    from ..members import service as members

    m = await members.member_of(s, call.app[keys.CONFIG_KEY].mp.app_id, call.openid)
    return m.id


async def claim_coupon(call: Call) -> JsonObject:
    """Claim one coupon of a template (exactly once per free coupon and per-user limit)."""
    template_id = call.body_as(schemas.ClaimBody).template_id

    async def work(s: AsyncSession) -> JsonObject:
        member_id = await _member_id(s, call)
        t = await service.get_template(s, template_id)
        rank, need = await _ranks(s, member_id, t.min_level)
        c = await service.claim(s, t.id, member_id, level_rank=rank, min_level_rank=need)
        return coupon_json(c, t)

    return await _db(call).transact(work)


async def my_coupons(call: Call) -> JsonObject:
    """My coupons, newest first."""
    q = call.query_as(schemas.MyCouponsQuery)
    async with _db(call).session() as s:
        member_id = await _member_id(s, call)
        cond = [Coupon.owner == member_id]
        if q.status:
            cond.append(Coupon.status == q.status)
        total = await s.scalar(select(func.count()).select_from(Coupon).where(*cond))
        rows = (await s.execute(select(Coupon, CouponTemplate)
                                .join(CouponTemplate, Coupon.template_id == CouponTemplate.id)
                                .where(*cond).order_by(Coupon.claimed_at.desc(), Coupon.id)
                                .limit(q.limit).offset(q.offset))).all()
        return {"total": total, "items": [coupon_json(c, t) for c, t in rows]}


async def coupon_code(call: Call) -> JsonObject:
    """The QR the kiosk reads for one of my unused coupons: signed, good for minutes."""
    from ..members.member_code import signing_key
    from .kiosk import issue_coupon_code

    key = signing_key(call.app[keys.CONFIG_KEY])
    async with _db(call).session() as s:
        member_id = await _member_id(s, call)
        c = await s.get(Coupon, call.path["coupon_id"])
        if c is None or c.owner != member_id:  # another shopper's coupon: not found
            raise NotFound("no such coupon")
        t = await service.get_template(s, c.template_id)
        code, expires = issue_coupon_code(key, c, t)
        return {"coupon_id": c.id, "code": code, "expires_in": max(0, expires - int(time.time()))}


TPL = {"template_id": {"type": "integer", "minimum": 1, "maximum": 10**15}}
CPN = {"coupon_id": {"type": "string", "pattern": "^c[0-9a-f]{20}$"}}
ROUTES = [
    Route("POST", f"{A}/coupon-templates", create_template, "Create a coupon template",
          "marketing", auth="admin", body=schemas.TemplateBody, status=201,
          response=schemas.MktTemplate),
    Route("GET", f"{A}/coupon-templates", list_templates, "Coupon templates", "marketing",
          auth="admin", query=schemas.TemplatesQuery, response=schemas.MktTemplateList),
    Route("GET", f"{A}/coupon-templates/{{template_id}}", get_template, "One coupon template",
          "marketing", auth="admin", path_params=TPL, response=schemas.MktTemplate),
    Route("POST", f"{A}/coupon-templates/{{template_id}}/issue", issue_batch,
          "Issue coupons to members", "marketing", auth="admin", path_params=TPL,
          body=schemas.IssueBody, response=schemas.MktIssueResult),
    Route("POST", f"{M}/claim", claim_coupon, "Claim a coupon", "marketing", auth="mp",
          body=schemas.ClaimBody, status=201, response=schemas.MktCoupon,
          responses={404: "not a member, or no such template",
                     409: "all claimed, limit reached, paused or ended"}),
    Route("GET", f"{M}/{{coupon_id}}/code", coupon_code, "A coupon's QR for the kiosk",
          "marketing", auth="mp", path_params=CPN, response=schemas.MktCouponCode,
          responses={404: "not a member, or not my coupon",
                     409: "the coupon is used, locked or ended"}),
    Route("GET", M, my_coupons, "My coupons", "marketing", auth="mp",
          query=schemas.MyCouponsQuery, response=schemas.MktCouponList,
          responses={404: "the caller has not registered as a member"}),
]
# Campaigns, flash sales and group buying (their own modules), after the coupon routes.
ROUTES += [*campaigns_api.ROUTES, *deals_api.ROUTES]
