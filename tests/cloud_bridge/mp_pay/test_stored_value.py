"""Paying a mini-program order from stored value with the member's payment password:
argon2-hashed, re-authentication to change it, a lockout after wrong tries that holds
for guesses sent at once, one debit per order, an open WeChat prepay closed first."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from cloud_bridge import auth
from cloud_bridge.models import Alert, now
from cloud_bridge.mp_pay import stored_value
from cloud_bridge.mp_pay.models import PayPassword
from cloud_bridge.payments.models import FAILED, PAID, MemberBalance, Payment

from ..test_api import add_user, login, mp_login
from .test_pay import bridge, place_order, shopper_pays

__all__ = ["bridge"]
pytestmark = pytest.mark.timeout(90)
M = "/api/v1/mp"
PASSWORD = "205813"


async def member_with_value(client, db, code: str, fen: int) -> tuple[dict, str, str]:
    """A registered shopper with ``fen`` of stored value: (headers, openid, member_id)."""
    headers, openid = await mp_login(client, code)
    r = await client.post(f"{M}/member/register", json={}, headers=headers)
    assert r.status in (200, 201), await r.text()
    member_id = (await r.json())["member_id"]
    if fen:
        await add_user(db, f"boss-{code}", auth.HEAD_OFFICE)
        boss = await login(client, f"boss-{code}")
        r = await client.post(f"/api/v1/admin/members/{member_id}/balance/topups",
                              json={"amount": fen, "key": f"t-{code}"}, headers=boss)
        assert r.status in (200, 201), await r.text()
    return headers, openid, member_id


async def balance(db, member_id: str) -> int:
    async with db.read() as s:
        row = await s.get(MemberBalance, member_id)
        return row.balance if row else 0


async def set_password(client, headers, password: str, current: str | None = None):
    body = {"password": password} | ({"current_password": current} if current else {})
    return await client.put(f"{M}/member/pay-password", json=body, headers=headers)


async def pay(client, headers, order_no: str, password: str):
    return await client.post(f"{M}/orders/{order_no}/pay/stored-value",
                             json={"password": password}, headers=headers)


async def test_password_rules_and_changing_it_needs_the_current_one(bridge, db):
    alice, _, member_id = await member_with_value(bridge, db, "alice-code", 0)
    for bad in ("12345", "1234567", "12a456", "123456", "654321", "888888"):
        assert (await set_password(bridge, alice, bad)).status == 400, bad
    assert (await set_password(bridge, alice, PASSWORD)).status == 200
    async with db.read() as s:
        row = await s.get(PayPassword, member_id)
    assert row.password_hash.startswith("$argon2") and PASSWORD not in row.password_hash
    assert (await set_password(bridge, alice, "370291")).status == 403          # no current
    assert (await set_password(bridge, alice, "370291", current="999990")).status == 403
    assert (await set_password(bridge, alice, "370291", current=PASSWORD)).status == 200
    stranger, _ = await mp_login(bridge, "not-a-member")
    assert (await set_password(bridge, stranger, PASSWORD)).status == 404
    assert (await bridge.put(f"{M}/member/pay-password", json={"password": PASSWORD})
            ).status == 401


async def test_pay_from_stored_value_once(bridge, db):
    alice, _, member_id = await member_with_value(bridge, db, "alice-code", 1000)
    order = await place_order(bridge, alice)                   # 2 x 2.50
    no = order["order_no"]
    assert (await pay(bridge, alice, no, PASSWORD)).status == 409   # no password set yet
    assert (await set_password(bridge, alice, PASSWORD)).status == 200
    r = await pay(bridge, alice, no, "999990")
    assert r.status == 403 and "4 tries left" in (await r.json())["detail"]
    r = await pay(bridge, alice, no, PASSWORD)
    assert r.status == 200, await r.text()
    assert await r.json() == {"order_no": no, "status": "paid", "amount": 500,
                              "currency": "CNY", "balance": 500}
    detail = await (await bridge.get(f"{M}/orders/{no}", headers=alice)).json()
    assert detail["status"] == "paid"
    assert detail["details"]["tenders"][0]["method"] == "stored_value"
    async with db.read() as s:
        payments = (await s.scalars(select(Payment).where(Payment.order_no == no))).all()
        alerts = (await s.scalars(select(Alert).where(Alert.order_no == no))).all()
        pw = await s.get(PayPassword, member_id)
    assert [(p.method, p.status, p.amount) for p in payments] == [("stored_value", PAID, 500)]
    assert [a.kind for a in alerts if a.kind != "oversell"] == ["mp_order"] and pw.failures == 0
    # Paid: nothing more to pay, with either method, and the balance stays.
    assert (await pay(bridge, alice, no, PASSWORD)).status == 409
    assert (await bridge.post(f"{M}/orders/{no}/pay", headers=alice)).status == 409
    assert await balance(db, member_id) == 500


async def test_not_enough_stored_value_changes_nothing(bridge, db):
    alice, _, member_id = await member_with_value(bridge, db, "alice-code", 400)
    await set_password(bridge, alice, PASSWORD)
    order = await place_order(bridge, alice)                   # 500 > 400
    r = await pay(bridge, alice, order["order_no"], PASSWORD)
    assert r.status == 409 and "not enough" in (await r.json())["detail"]
    detail = await (await bridge.get(f"{M}/orders/{order['order_no']}", headers=alice)).json()
    assert detail["status"] == "created"
    assert await balance(db, member_id) == 400


async def test_lockout_holds_for_guesses_sent_at_once(bridge, db):
    alice, _, member_id = await member_with_value(bridge, db, "alice-code", 1000)
    await set_password(bridge, alice, PASSWORD)
    order = await place_order(bridge, alice)
    guesses = [f"{n:06d}" for n in range(100000, 100012)]      # none is the password
    replies = await asyncio.gather(*(pay(bridge, alice, order["order_no"], g) for g in guesses))
    statuses = sorted(r.status for r in replies)
    # MAX_FAILURES checks at most: 4 told "wrong", the 5th locks, the rest are refused.
    assert statuses == [403] * (stored_value.MAX_FAILURES - 1) + [429] * (
        len(guesses) - stored_value.MAX_FAILURES + 1)
    r = await pay(bridge, alice, order["order_no"], PASSWORD)  # right, but locked
    assert r.status == 429 and int(r.headers["Retry-After"]) > 60
    assert (await set_password(bridge, alice, "370291", current=PASSWORD)).status == 429
    # When the lock has run out (moved into the past here), the right password pays.
    async with db.session() as s:
        await s.execute(update(PayPassword).where(PayPassword.member_id == member_id)
                        .values(locked_until=now() - timedelta(seconds=1)))
    assert (await pay(bridge, alice, order["order_no"], PASSWORD)).status == 200


async def test_an_open_wechat_prepay_is_closed_before_paying(bridge, db, sandbox):
    alice, openid, _ = await member_with_value(bridge, db, "alice-code", 1000)
    await set_password(bridge, alice, PASSWORD)
    order = await place_order(bridge, alice)
    params = await (await bridge.post(f"{M}/orders/{order['order_no']}/pay", headers=alice)).json()
    assert (await pay(bridge, alice, order["order_no"], PASSWORD)).status == 200
    assert sandbox.wechat.ledger.trades[params["out_trade_no"]].state == "CLOSED"
    status, _ = await shopper_pays(sandbox, params, openid)      # the old WeChat sheet
    assert status != 200
    async with db.read() as s:
        wx = await s.scalar(select(Payment).where(Payment.out_trade_no == params["out_trade_no"]))
    assert (wx.status, wx.reason) == (FAILED, "paid_by_stored_value")


async def test_another_shopper_cannot_pay_my_order_with_their_value(bridge, db):
    alice, _, _ = await member_with_value(bridge, db, "alice-code", 0)
    bob, _, _ = await member_with_value(bridge, db, "bob-code", 5000)
    await set_password(bridge, bob, PASSWORD)
    order = await place_order(bridge, alice)
    assert (await pay(bridge, bob, order["order_no"], PASSWORD)).status == 404
    assert (await pay(bridge, alice, "MPNOSUCH", PASSWORD)).status == 404
    assert (await bridge.post(f"{M}/orders/{order['order_no']}/pay/stored-value",
                              json={"password": PASSWORD})).status == 401
