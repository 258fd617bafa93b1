"""Routes of the member programs: paid membership, referrals, surveys, points exchange.

Shoppers: ``/api/v1/mp/member/{plans,paid,referral,exchange}`` and
``/api/v1/mp/surveys``; every route acts on the caller's own membership (404 before
joining). Staff: ``/api/v1/admin/members/...``: head office sets chain rules (plans,
referral rules, chain-wide surveys and items); store staff make and see their store's
surveys and exchange items, their store's members, and their store's answers of
chain-wide surveys. Another store's things are 404 (ids do not leak).
"""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from common.jsontypes import JsonObject

from .. import auth, keys
from ..db import Database
from ..errors import Forbidden, NotFound
from ..models import Order
from ..openapi import Call, Route
from . import exchange, paid, points, referrals, surveys
from . import programs_schemas as sch
from .models import MemberRecord
from .models_programs import (
    Exchange,
    ExchangeItem,
    PaidMembership,
    PaidPurchase,
    Referral,
    ReferralReward,
    Survey,
    SurveyAnswer,
)
from .service import member_of

A = "/api/v1/admin/members"
M = "/api/v1/mp/member"
S = "/api/v1/mp/surveys"
HO = (auth.HEAD_OFFICE,)
NOT_MEMBER = {404: "the caller has not registered as a member"}
ID = {"type": "integer", "minimum": 1, "maximum": 10**15}


def _db(call: Call) -> Database:
    return call.app[keys.DB_KEY]


def _tz(call: Call) -> str:
    return str(call.app[keys.CONFIG_KEY].bridge.timezone)


async def _me(s: AsyncSession, call: Call) -> MemberRecord:
    return await member_of(s, call.app[keys.CONFIG_KEY].mp.app_id, call.openid)


def _own_or_chain(call: Call, store: str | None) -> None:
    """Making a thing for ``store`` (``None``: the chain): head office, or that store's staff."""
    p = call.principal
    if store is None and not p.chain_wide:
        raise Forbidden("store staff make these for their own store only: give store")
    if store is not None:
        p.check_store(store)


def _visible(call: Call, store: str | None, what: str) -> None:
    """Another store's thing is "not found" for store staff."""
    p = call.principal
    if store is not None and not p.chain_wide and store != p.store:
        raise NotFound(f"{what} not found")


# ---------------------------------------------------------------- paid membership


async def create_plan(call: Call) -> JsonObject:
    """A paid membership plan (head office): price, renewal price, duration, rung."""
    async with _db(call).session() as s:
        return paid.plan_json(await paid.create_plan(s, **call.body_as(sch.PlanBody).model_dump()))


async def list_plans(call: Call) -> JsonObject:
    """Every paid membership plan, retired ones too."""
    async with _db(call).session() as s:
        return {"items": [paid.plan_json(p) for p in await paid.list_plans(s, False)]}


async def update_plan(call: Call) -> JsonObject:
    """Change a plan's price, duration, rung or status (purchases made keep theirs)."""
    patch = call.body_as(sch.PlanPatch)
    async with _db(call).session() as s:
        return paid.plan_json(await paid.update_plan(s, int(call.path["plan_id"]), patch))


async def list_paid(call: Call) -> JsonObject:
    """Members with a paid membership; store staff see their store's members."""
    q = call.query_as(sch.PaidQuery)
    store = call.principal.store_scope(q.store)
    cond = [] if store is None else [MemberRecord.home_store == store]
    async with _db(call).session() as s:
        base = select(PaidMembership, MemberRecord).join(
            MemberRecord, MemberRecord.id == PaidMembership.member_id).where(*cond)
        total = await s.scalar(select(func.count()).select_from(base.subquery()))
        rows = (await s.execute(base.order_by(PaidMembership.ends_at.desc())
                                .limit(q.limit).offset(q.offset))).all()
        return {"total": total, "items": [
            {"member_id": m.id, "home_store": m.home_store,
             "membership": paid.membership_json(held)} for held, m in rows]}


async def sync_programs(call: Call) -> dict[str, int]:
    """Run the programs' job now: activate paid purchases, end memberships, reward first
    purchases of invitees, enqueue renewal reminders."""
    from .runtime import run_programs

    return await run_programs(_db(call), _tz(call))


async def adjust_points(call: Call) -> JsonObject:
    """Add or take a member's points by hand (head office; once per key), e.g. goodwill."""
    b = call.body_as(sch.AdjustBody)

    async def work(s: AsyncSession) -> JsonObject:
        m = await s.get(MemberRecord, b.member_id)
        if m is None:
            raise NotFound(f"member {b.member_id} not found")
        source = f"adjust:{b.key}"
        if b.points > 0:
            applied = await points.grant(s, m.id, "adjust", source, b.points) > 0
        else:
            applied = await points.redeem(s, m.id, -b.points, source)
        await s.refresh(m)
        return {"member_id": m.id, "points": b.points, "applied": applied,
                "balance": m.points}

    return await _db(call).transact(work)


async def shopper_plans(call: Call) -> JsonObject:
    """Plans on sale, with what I would pay (the renewal price while I hold the plan)."""
    async with _db(call).session() as s:
        me = await _me(s, call)
        items = []
        for plan in await paid.list_plans(s, True):
            price, renewal = await paid.price_for(s, me.id, plan)
            items.append({**paid.plan_json(plan), "my_price": price, "renewal": renewal})
        return {"items": items}


async def purchase_plan(call: Call) -> JsonObject:
    """Buy (or renew) a plan: an order to pay with WeChat Pay or stored value."""
    async def work(s: AsyncSession) -> JsonObject:
        me = await _me(s, call)
        p, order = await paid.purchase(s, me, call.openid, int(call.path["plan_id"]),
                                       call.body_as(sch.PurchaseBody).store, _tz(call))
        return paid.purchase_json(p, order)

    return await _db(call).transact(work)


async def my_paid(call: Call) -> JsonObject:
    """My paid membership and purchases (a purchase paid just now is activated here)."""
    async def work(s: AsyncSession) -> JsonObject:
        me = await _me(s, call)
        await paid.settle_purchases(s, member_id=me.id)
        rows = (await s.execute(
            select(PaidPurchase, Order).join(Order, Order.order_no == PaidPurchase.order_no)
            .where(PaidPurchase.member_id == me.id)
            .order_by(PaidPurchase.id.desc()).limit(50))).all()
        return {"membership": paid.membership_json(await paid.membership(s, me.id)),
                "purchases": [paid.purchase_json(p, o) for p, o in rows]}

    return await _db(call).transact(work)


# ---------------------------------------------------------------- referrals


async def my_referral(call: Call) -> JsonObject:
    """My invitation code, who invited me, how many I invited, and my rewards."""
    async def work(s: AsyncSession) -> JsonObject:
        me = await _me(s, call)
        code = await referrals.code_of(s, me.id)
        invited_by = await s.scalar(select(Referral.inviter_id)
                                    .where(Referral.invitee_id == me.id))
        invitees = await s.scalar(select(func.count()).select_from(Referral)
                                  .where(Referral.inviter_id == me.id))
        rewards = (await s.scalars(select(ReferralReward).where(ReferralReward.member_id == me.id)
                                   .order_by(ReferralReward.id.desc()).limit(100))).all()
        return {"code": code, "invited_by": invited_by, "invitees": invitees or 0,
                "rewards": [referrals.reward_json(r) for r in rewards]}

    return await _db(call).transact(work)


async def accept_referral(call: Call) -> JsonObject:
    """I (a new member) accept an invitation code; the registration rewards are given."""
    async def work(s: AsyncSession) -> JsonObject:
        me = await _me(s, call)
        ref = await referrals.accept(s, me, call.body_as(sch.AcceptBody).code)
        rows = (await s.scalars(select(ReferralReward).where(
            ReferralReward.referral_id == ref.id, ReferralReward.member_id == me.id))).all()
        return {"inviter_id": ref.inviter_id,
                "rewards": [referrals.reward_json(r) for r in rows]}

    return await _db(call).transact(work)


async def get_rules(call: Call) -> JsonObject:
    """What inviters and invitees earn for the invitee's registration and first purchase."""
    async with _db(call).session() as s:
        return {"items": [referrals.rule_json(r) for r in await referrals.rules(s)]}


async def put_rules(call: Call) -> JsonObject:
    """Replace the referral reward rules (head office)."""
    new = call.body_as(sch.RulesBody).items
    async with _db(call).session() as s:
        return {"items": [referrals.rule_json(r) for r in await referrals.set_rules(s, new)]}


async def list_referrals(call: Call) -> JsonObject:
    """Invitations accepted, newest first; store staff see their store's new members."""
    q = call.query_as(sch.PaidQuery)
    store = call.principal.store_scope(q.store)
    cond = [] if store is None else [MemberRecord.home_store == store]
    async with _db(call).session() as s:
        base = select(Referral, MemberRecord).join(
            MemberRecord, MemberRecord.id == Referral.invitee_id).where(*cond)
        total = await s.scalar(select(func.count()).select_from(base.subquery()))
        rows = (await s.execute(base.order_by(Referral.id.desc())
                                .limit(q.limit).offset(q.offset))).all()
        return {"total": total, "items": [
            {"id": r.id, "inviter_id": r.inviter_id, "invitee_id": r.invitee_id,
             "invitee_home_store": m.home_store, "first_order_no": r.first_order_no,
             "created_at": r.created_at.isoformat()} for r, m in rows]}


# ---------------------------------------------------------------- surveys


async def create_survey(call: Call) -> JsonObject:
    """A survey: head office for the chain, store staff for their store."""
    b = call.body_as(sch.SurveyBody).model_dump()
    _own_or_chain(call, b["store"])
    async with _db(call).session() as s:
        sv = Survey(created_by=call.principal.actor, status="active", **b)
        s.add(sv)
        await s.flush()
        return surveys.survey_json(sv)


async def list_surveys(call: Call) -> JsonObject:
    """Surveys, newest first (store staff: their store's and the chain's)."""
    q = call.query_as(sch.SurveysQuery)
    store = call.principal.store_scope(q.store)
    cond = [] if store is None else [or_(Survey.store == store, Survey.store.is_(None))]
    async with _db(call).session() as s:
        total = await s.scalar(select(func.count()).select_from(Survey).where(*cond))
        rows = (await s.scalars(select(Survey).where(*cond).order_by(Survey.id.desc())
                                .limit(q.limit).offset(q.offset))).all()
        return {"total": total, "items": [surveys.survey_json(sv) for sv in rows]}


async def survey_results(call: Call) -> JsonObject:
    """Results per store and month (NPS: % promoters - % detractors; CSAT: % 4-5)."""
    q = call.query_as(sch.ResultsQuery)
    async with _db(call).session() as s:
        sv = await surveys.get_survey(s, int(call.path["survey_id"]))
        _visible(call, sv.store, f"survey {sv.id}")
        store = call.principal.store_scope(q.store)
        return {"survey": surveys.survey_json(sv),
                "items": await surveys.results(s, sv, store, q.month)}


async def close_survey(call: Call) -> JsonObject:
    """Stop taking answers (answers given stay in the results)."""
    async with _db(call).session() as s:
        sv = await surveys.get_survey(s, int(call.path["survey_id"]))
        _visible(call, sv.store, f"survey {sv.id}")
        _own_or_chain(call, sv.store)
        sv.status = "closed"
        return surveys.survey_json(sv)


async def surveys_to_answer(call: Call) -> JsonObject:
    """Surveys I can answer now, each about one of my recent paid orders."""
    async with _db(call).session() as s:
        me = await _me(s, call)
        pairs = await surveys.pending(s, me)
        return {"items": [{"survey": surveys.survey_json(sv), "order_no": o.order_no,
                           "store": o.store,
                           "paid_at": o.paid_at.isoformat() if o.paid_at else None}
                          for sv, o in pairs]}


async def answer_survey(call: Call) -> JsonObject:
    """Answer a survey about one of my orders (once per survey and order)."""
    b = call.body_as(sch.AnswerBody)

    async def work(s: AsyncSession) -> JsonObject:
        me = await _me(s, call)
        a = await surveys.answer(s, me, int(call.path["survey_id"]), b.order_no, b.score,
                                 b.comment, _tz(call))
        return surveys.answer_json(a)

    return await _db(call).transact(work)


async def my_answers(call: Call) -> JsonObject:
    """My answers, newest first."""
    async with _db(call).session() as s:
        me = await _me(s, call)
        rows = (await s.scalars(select(SurveyAnswer).where(SurveyAnswer.member_id == me.id)
                                .order_by(SurveyAnswer.id.desc()).limit(100))).all()
        return {"items": [surveys.answer_json(a) for a in rows]}


# ---------------------------------------------------------------- points exchange


async def create_item(call: Call) -> JsonObject:
    """An exchange item: a coupon (chain or store) or a product picked up in a store."""
    b = call.body_as(sch.ItemBody).model_dump()
    _own_or_chain(call, b["store"])
    async with _db(call).session() as s:
        return exchange.item_json(await exchange.create_item(
            s, created_by=call.principal.actor, **b))


async def list_items(call: Call) -> JsonObject:
    """Exchange items, newest first (store staff: their store's and the chain's)."""
    q = call.query_as(sch.ItemsQuery)
    store = call.principal.store_scope(q.store)
    cond = [] if store is None else [or_(ExchangeItem.store == store,
                                         ExchangeItem.store.is_(None))]
    async with _db(call).session() as s:
        total = await s.scalar(select(func.count()).select_from(ExchangeItem).where(*cond))
        rows = (await s.scalars(select(ExchangeItem).where(*cond)
                                .order_by(ExchangeItem.id.desc())
                                .limit(q.limit).offset(q.offset))).all()
        return {"total": total, "items": [exchange.item_json(i) for i in rows]}


async def set_item_status(call: Call) -> JsonObject:
    """Pause or resume an item (its store's staff, or head office)."""
    async with _db(call).session() as s:
        item = await exchange.get_item(s, int(call.path["item_id"]))
        _visible(call, item.store, f"exchange item {item.id}")
        _own_or_chain(call, item.store)
        item.status = call.body_as(sch.ItemStatusBody).status
        return exchange.item_json(item)


async def list_exchanges(call: Call) -> JsonObject:
    """Exchanges, newest first; store staff see the ones picked up in their store."""
    q = call.query_as(sch.ExchangesQuery)
    store = call.principal.store_scope(q.store)
    cond = [] if store is None else [Exchange.store == store]
    if q.status:
        cond.append(Exchange.status == q.status)
    async with _db(call).session() as s:
        total = await s.scalar(select(func.count()).select_from(Exchange).where(*cond))
        rows = (await s.scalars(select(Exchange).where(*cond).order_by(Exchange.id.desc())
                                .limit(q.limit).offset(q.offset))).all()
        return {"total": total, "items": [exchange.exchange_json(e) for e in rows]}


async def hand_over(call: Call) -> JsonObject:
    """The member picked the product up: once; the store's stock goes down by one."""
    p = call.principal
    scope = None if p.chain_wide else p.store

    async def work(s: AsyncSession) -> JsonObject:
        ex = await exchange.hand_over(s, int(call.path["exchange_id"]), p.actor, scope)
        return exchange.exchange_json(ex)

    return await _db(call).transact(work)


async def shopper_items(call: Call) -> JsonObject:
    """What my points can buy now."""
    q = call.query_as(sch.ItemsQuery)
    cond = [ExchangeItem.status == "active", ExchangeItem.issued < ExchangeItem.stock]
    if q.store:
        cond.append(or_(ExchangeItem.store == q.store, ExchangeItem.store.is_(None)))
    async with _db(call).session() as s:
        await _me(s, call)
        total = await s.scalar(select(func.count()).select_from(ExchangeItem).where(*cond))
        rows = (await s.scalars(select(ExchangeItem).where(*cond).order_by(ExchangeItem.id)
                                .limit(q.limit).offset(q.offset))).all()
        return {"total": total, "items": [exchange.item_json(i) for i in rows]}


async def redeem(call: Call) -> JsonObject:
    """Exchange my points for an item (a retry with the same request id changes nothing)."""
    b = call.body_as(sch.ExchangeBody)

    async def work(s: AsyncSession) -> JsonObject:
        me = await _me(s, call)
        return exchange.exchange_json(await exchange.redeem(s, me, b.item_id, b.request_id))

    return await _db(call).transact(work)


async def my_exchanges(call: Call) -> JsonObject:
    """My exchanges, newest first."""
    q = call.query_as(sch.ItemsQuery)
    async with _db(call).session() as s:
        me = await _me(s, call)
        cond = [Exchange.member_id == me.id]
        total = await s.scalar(select(func.count()).select_from(Exchange).where(*cond))
        rows = (await s.scalars(select(Exchange).where(*cond).order_by(Exchange.id.desc())
                                .limit(q.limit).offset(q.offset))).all()
        return {"total": total, "items": [exchange.exchange_json(e) for e in rows]}


T = "member-programs"
ROUTES = [
    # paid membership
    Route("POST", f"{A}/plans", create_plan, "Create a paid membership plan", T, auth="admin",
          roles=HO, body=sch.PlanBody, status=201, response=sch.MemPlan,
          responses={400: "the level is not on the ladder", 409: "the code exists"}),
    Route("GET", f"{A}/plans", list_plans, "Paid membership plans", T, auth="admin",
          response=sch.MemPlanList),
    Route("PUT", f"{A}/plans/{{plan_id}}", update_plan, "Change a paid membership plan", T,
          auth="admin", roles=HO, path_params={"plan_id": ID}, body=sch.PlanPatch,
          response=sch.MemPlan, responses={400: "the level is not on the ladder",
                                           404: "no such plan"}),
    Route("GET", f"{A}/paid", list_paid, "Paid memberships", T, auth="admin",
          query=sch.PaidQuery, response=sch.MemPaidList),
    Route("POST", f"{A}/programs/sync", sync_programs,
          "Run the member programs' job now (paid activations, expiry, referral purchases, "
          "renewal reminders)", T, auth="admin", roles=HO, response=sch.MemProgramsSync),
    Route("POST", f"{A}/points/adjustments", adjust_points, "Adjust a member's points", T,
          auth="admin", roles=HO, body=sch.AdjustBody, response=sch.MemAdjusted,
          responses={404: "no such member", 409: "not enough points to take"}),
    Route("GET", f"{M}/plans", shopper_plans, "Paid membership plans on sale", T, auth="mp",
          response=sch.MemShopperPlanList, responses=NOT_MEMBER),
    Route("POST", f"{M}/plans/{{plan_id}}/purchase", purchase_plan, "Buy or renew a plan", T,
          auth="mp", path_params={"plan_id": ID}, body=sch.PurchaseBody, status=201,
          response=sch.MemPurchase,
          responses={404: "not a member, or no such plan", 409: "the plan is not sold"}),
    Route("GET", f"{M}/paid", my_paid, "My paid membership", T, auth="mp",
          response=sch.MemMyPaid, responses=NOT_MEMBER),
    # referrals
    Route("GET", f"{M}/referral", my_referral, "My invitation code and rewards", T, auth="mp",
          response=sch.MemMyReferral, responses=NOT_MEMBER),
    Route("POST", f"{M}/referral/accept", accept_referral, "Accept an invitation", T,
          auth="mp", body=sch.AcceptBody, response=sch.MemReferralAccepted,
          responses={404: "not a member, or no such code",
                     409: "own code, not a new member, invited already, or a cycle"}),
    Route("GET", f"{A}/referrals/rules", get_rules, "Referral reward rules", T, auth="admin",
          response=sch.MemReferralRules),
    Route("PUT", f"{A}/referrals/rules", put_rules, "Set the referral reward rules", T,
          auth="admin", roles=HO, body=sch.RulesBody, response=sch.MemReferralRules,
          responses={400: "a rule twice, or no such coupon template"}),
    Route("GET", f"{A}/referrals", list_referrals, "Accepted invitations", T, auth="admin",
          query=sch.PaidQuery, response=sch.MemReferralList),
    # surveys
    Route("POST", f"{A}/surveys", create_survey, "Create a satisfaction survey", T,
          auth="admin", body=sch.SurveyBody, status=201, response=sch.MemSurvey),
    Route("GET", f"{A}/surveys", list_surveys, "Satisfaction surveys", T, auth="admin",
          query=sch.SurveysQuery, response=sch.MemSurveyList),
    Route("GET", f"{A}/surveys/{{survey_id}}/results", survey_results,
          "Survey results per store and month", T, auth="admin",
          path_params={"survey_id": ID}, query=sch.ResultsQuery,
          response=sch.MemSurveyResults, responses={404: "no such survey"}),
    Route("POST", f"{A}/surveys/{{survey_id}}/close", close_survey, "Close a survey", T,
          auth="admin", path_params={"survey_id": ID}, response=sch.MemSurvey,
          responses={404: "no such survey"}),
    Route("GET", S, surveys_to_answer, "Surveys I can answer", T, auth="mp",
          response=sch.MemSurveysToAnswer, responses=NOT_MEMBER),
    Route("POST", f"{S}/{{survey_id}}/answers", answer_survey, "Answer a survey", T,
          auth="mp", path_params={"survey_id": ID}, body=sch.AnswerBody, status=201,
          response=sch.MemSurveyAnswer,
          responses={404: "not a member, no such survey, or not my order",
                     409: "closed, not answerable for this order, or answered already"}),
    Route("GET", f"{S}/answers", my_answers, "My survey answers", T, auth="mp",
          response=sch.MemSurveyAnswers, responses=NOT_MEMBER),
    # points exchange
    Route("POST", f"{A}/exchange/items", create_item, "Create a points exchange item", T,
          auth="admin", body=sch.ItemBody, status=201, response=sch.MemExchangeItem),
    Route("GET", f"{A}/exchange/items", list_items, "Points exchange items", T, auth="admin",
          query=sch.ItemsQuery, response=sch.MemExchangeItemList),
    Route("PUT", f"{A}/exchange/items/{{item_id}}/status", set_item_status,
          "Pause or resume an exchange item", T, auth="admin", path_params={"item_id": ID},
          body=sch.ItemStatusBody, response=sch.MemExchangeItem,
          responses={404: "no such item"}),
    Route("GET", f"{A}/exchange/redemptions", list_exchanges, "Points exchanges", T,
          auth="admin", query=sch.ExchangesQuery, response=sch.MemExchangeList),
    Route("POST", f"{A}/exchange/redemptions/{{exchange_id}}/hand-over", hand_over,
          "Hand over an exchanged product", T, auth="admin", path_params={"exchange_id": ID},
          response=sch.MemExchange,
          responses={404: "no such exchange", 409: "handed over already, or a coupon"}),
    Route("GET", f"{M}/exchange/items", shopper_items, "What my points can buy", T,
          auth="mp", query=sch.ItemsQuery, response=sch.MemExchangeItemList,
          responses=NOT_MEMBER),
    Route("POST", f"{M}/exchange", redeem, "Exchange my points", T, auth="mp",
          body=sch.ExchangeBody, status=201, response=sch.MemExchange,
          responses={404: "not a member, or no such item",
                     409: "paused, sold out, limit reached, not enough points"}),
    Route("GET", f"{M}/exchange", my_exchanges, "My points exchanges", T, auth="mp",
          query=sch.ItemsQuery, response=sch.MemExchangeList, responses=NOT_MEMBER),
]
