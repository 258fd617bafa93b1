"""Paid membership: plans, a purchase paid through the mini-program's stored-value payment,
the plan's rung while active, early renewal extending the period, expiry, refunds,
renewal reminders through the notification outbox, and what is refused."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from cloud_bridge.members.models import MemberRecord
from cloud_bridge.members.models_programs import PaidMembership, PaidPurchase
from cloud_bridge.models import Alert, Order, Stock, now
from cloud_bridge.notify.models import NotifyMessage
from cloud_bridge.payments.providers.stored_value import apply_entry

from .conftest import A, M, register

PLAN = {"code": "gold-year", "name_zh": "金卡年卡", "name_en": "Gold, a year", "level": "gold",
        "price": 9900, "renewal_price": 8800, "duration_days": 365}
PASSWORD = "205813"


async def make_plan(client, people, **over) -> dict:
    r = await client.post(f"{A}/plans", json={**PLAN, **over}, headers=people["boss"])
    assert r.status == 201, await r.text()
    return await r.json()


async def give_value(db, member_id: str, fen: int, key: str) -> None:
    async with db.session() as s:
        await apply_entry(s, member_id, fen, f"test:{key}")


async def buy_and_pay(client, db, headers, member_id: str, plan_id: int) -> dict:
    """Buy the plan and pay its order from stored value, as the shopper would."""
    r = await client.post(f"{M}/plans/{plan_id}/purchase", json={"store": "s1"},
                          headers=headers)
    assert r.status == 201, await r.text()
    bought = await r.json()
    await give_value(db, member_id, bought["price"], bought["order_no"])
    r = await client.put(f"{M}/pay-password", json={"password": PASSWORD}, headers=headers)
    assert r.status in (200, 403), await r.text()  # set once; later calls need the current
    r = await client.post(f"/api/v1/mp/orders/{bought['order_no']}/pay/stored-value",
                          json={"password": PASSWORD}, headers=headers)
    assert r.status == 200, await r.text()
    return bought


async def test_buy_pay_hold_renew_and_expire(client, db, people):
    plan = await make_plan(client, people)
    me = await register(client, people["alice"], home_store="s1")
    assert me["level"] == "regular"
    plans = await (await client.get(f"{M}/plans", headers=people["alice"])).json()
    assert [(p["my_price"], p["renewal"]) for p in plans["items"]] == [(9900, False)]

    # Tapping "buy" twice: one order.
    first = await (await client.post(f"{M}/plans/{plan['id']}/purchase", json={"store": "s1"},
                                     headers=people["alice"])).json()
    again = await (await client.post(f"{M}/plans/{plan['id']}/purchase", json={"store": "s1"},
                                     headers=people["alice"])).json()
    assert again["order_no"] == first["order_no"] and first["status"] == "pending"
    mine = await (await client.get(f"{M}/paid", headers=people["alice"])).json()
    assert mine["membership"]["active"] is False

    await buy_and_pay(client, db, people["alice"], me["member_id"], plan["id"])
    mine = await (await client.get(f"{M}/paid", headers=people["alice"])).json()
    assert mine["membership"]["active"] and mine["membership"]["level"] == "gold"
    assert mine["purchases"][0]["status"] == "active"
    assert mine["purchases"][0]["order_status"] == "completed"
    member = await (await client.get(M, headers=people["alice"])).json()
    assert member["level"] == "gold" and member["discount_bp"] == 500
    async with db.read() as s:
        # Nothing on a shelf: no stock moved, no order for the store to prepare.
        assert (await s.scalar(select(Stock).where(Stock.product_id == "paid-plan:gold-year"))
                ) is None
        assert (await s.scalar(select(Alert).where(Alert.order_no == first["order_no"]))) is None
        held = await s.get(PaidMembership, me["member_id"])
        end1 = held.ends_at

    # Renewing early: the renewal price, and the new year follows the current one.
    plans = await (await client.get(f"{M}/plans", headers=people["alice"])).json()
    assert plans["items"][0]["my_price"] == 8800 and plans["items"][0]["renewal"]
    second = await buy_and_pay(client, db, people["alice"], me["member_id"], plan["id"])
    assert second["price"] == 8800 and second["renewal"]
    r = await client.post(f"{A}/programs/sync", headers=people["boss"])
    assert (await r.json())["activated"] == 1
    async with db.read() as s:
        held = await s.get(PaidMembership, me["member_id"])
        assert held.ends_at == end1 + timedelta(days=365)

    # Past its end: the member falls back to the rung earned by growth.
    async with db.session() as s:
        await s.execute(update(PaidMembership).values(ends_at=now() - timedelta(seconds=1)))
    out = await (await client.post(f"{A}/programs/sync", headers=people["boss"])).json()
    assert out["ended"] == 1
    member = await (await client.get(M, headers=people["alice"])).json()
    assert member["level"] == "regular"
    out = await (await client.post(f"{A}/programs/sync", headers=people["boss"])).json()
    assert out["ended"] == 0


async def test_growth_while_paid_keeps_the_paid_rung_and_a_higher_one_wins(client, db, people):
    from cloud_bridge.members.service import add_growth

    plan = await make_plan(client, people, code="silver", level="silver", price=100,
                           renewal_price=100)
    me = await register(client, people["alice"])
    await buy_and_pay(client, db, people["alice"], me["member_id"], plan["id"])
    await client.get(f"{M}/paid", headers=people["alice"])
    async with db.session() as s:
        await add_growth(s, me["member_id"], "test", "g1", 10)
        assert (await s.get(MemberRecord, me["member_id"])).level == "silver"
        await add_growth(s, me["member_id"], "test", "g2", 6000)  # earned gold
        assert (await s.get(MemberRecord, me["member_id"])).level == "gold"


async def test_refund_takes_the_period_back_and_a_cancelled_order_cancels(client, db, people):
    plan = await make_plan(client, people)
    me = await register(client, people["alice"])
    bought = await buy_and_pay(client, db, people["alice"], me["member_id"], plan["id"])
    await client.get(f"{M}/paid", headers=people["alice"])
    async with db.session() as s:
        await s.execute(update(Order).where(Order.order_no == bought["order_no"])
                        .values(status="refunded", refunded_total=9900))
    out = await (await client.post(f"{A}/programs/sync", headers=people["boss"])).json()
    assert out["refunded"] == 1
    mine = await (await client.get(f"{M}/paid", headers=people["alice"])).json()
    assert not mine["membership"]["active"]
    assert (await (await client.get(M, headers=people["alice"])).json())["level"] == "regular"

    unpaid = await (await client.post(f"{M}/plans/{plan['id']}/purchase", json={"store": "s1"},
                                      headers=people["alice"])).json()
    async with db.session() as s:
        await s.execute(update(Order).where(Order.order_no == unpaid["order_no"])
                        .values(status="cancelled"))
    out = await (await client.post(f"{A}/programs/sync", headers=people["boss"])).json()
    assert out["cancelled"] == 1 and out["activated"] == 0
    async with db.read() as s:
        p = await s.scalar(select(PaidPurchase).where(PaidPurchase.order_no == unpaid["order_no"]))
        assert p.status == "cancelled"


async def test_renewal_reminder_once_per_period(client, db, people):
    plan = await make_plan(client, people)
    me = await register(client, people["alice"])
    await buy_and_pay(client, db, people["alice"], me["member_id"], plan["id"])
    await client.get(f"{M}/paid", headers=people["alice"])
    out = await (await client.post(f"{A}/programs/sync", headers=people["boss"])).json()
    assert out["renewal_reminders"] == 0  # a year left: too early
    async with db.session() as s:
        await s.execute(update(PaidMembership).values(ends_at=now() + timedelta(days=3)))
    out = await (await client.post(f"{A}/programs/sync", headers=people["boss"])).json()
    assert out["renewal_reminders"] == 1
    out = await (await client.post(f"{A}/programs/sync", headers=people["boss"])).json()
    assert out["renewal_reminders"] == 0
    async with db.read() as s:
        msgs = (await s.scalars(select(NotifyMessage))).all()
        assert [(m.template_key, m.openid) for m in msgs] == [
            ("member_renewal", people["alice_openid"])]
        assert msgs[0].data["thing1"] == "金卡年卡"


async def test_refusals(client, db, people):
    r = await client.post(f"{A}/plans", json=PLAN, headers=people["clerk1"])
    assert r.status == 403
    r = await client.post(f"{A}/plans", json={**PLAN, "level": "platinum"},
                          headers=people["boss"])
    assert r.status == 400
    plan = await make_plan(client, people)
    r = await client.post(f"{A}/plans", json=PLAN, headers=people["boss"])
    assert r.status == 409
    # Not a member yet: nothing to buy with.
    r = await client.post(f"{M}/plans/{plan['id']}/purchase", json={"store": "s1"},
                          headers=people["bob"])
    assert r.status == 404
    await register(client, people["bob"])
    r = await client.post(f"{M}/plans/999/purchase", json={"store": "s1"}, headers=people["bob"])
    assert r.status == 404
    r = await client.put(f"{A}/plans/{plan['id']}", json={"status": "retired"},
                         headers=people["boss"])
    assert r.status == 200 and (await r.json())["status"] == "retired"
    r = await client.post(f"{M}/plans/{plan['id']}/purchase", json={"store": "s1"},
                          headers=people["bob"])
    assert r.status == 409
    r = await client.put(f"{A}/plans/{plan['id']}", json={"price": 1}, headers=people["clerk1"])
    assert r.status == 403


async def test_points_adjustment_once_per_key_and_never_negative(client, db, people):
    me = await register(client, people["alice"])
    body = {"member_id": me["member_id"], "points": 50, "reason": "补偿", "key": "k1"}
    r = await client.post(f"{A}/points/adjustments", json=body, headers=people["boss"])
    assert (await r.json()) == {"member_id": me["member_id"], "points": 50, "applied": True,
                                "balance": 50}
    r = await client.post(f"{A}/points/adjustments", json=body, headers=people["boss"])
    assert (await r.json())["applied"] is False and (await r.json())["balance"] == 50
    r = await client.post(f"{A}/points/adjustments", json={**body, "points": -51, "key": "k2"},
                          headers=people["boss"])
    assert r.status == 409
    r = await client.post(f"{A}/points/adjustments", json={**body, "key": "k3"},
                          headers=people["clerk1"])
    assert r.status == 403
    assert (await (await client.get(M, headers=people["alice"])).json())["points"] == 50
