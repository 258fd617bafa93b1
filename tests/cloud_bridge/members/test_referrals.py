"""Referrals: an invitee registers and accepts an inviter's code; rewards (points and a
coupon through marketing's claim path) for the registration and the first paid purchase,
exactly once each, never for sharing; self-referral, second inviters, late acceptance and
cycles are refused."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select, update

from cloud_bridge.marketing.models import Coupon
from cloud_bridge.members.models import MemberRecord, PointsEntry
from cloud_bridge.members.models_programs import ReferralReward
from cloud_bridge.models import Order, now

from ..test_api import mp_login
from .conftest import A, M, register

RULES = {"items": [
    {"event": "register", "beneficiary": "invitee", "points": 20},
    {"event": "register", "beneficiary": "inviter", "points": 10},
    {"event": "first_purchase", "beneficiary": "inviter", "points": 100},
]}


async def setup_rules(client, people, coupon_template: int | None = None) -> None:
    rules = {"items": [dict(r) for r in RULES["items"]]}
    if coupon_template is not None:
        rules["items"][2]["coupon_template_id"] = coupon_template
    r = await client.put(f"{A}/referrals/rules", json=rules, headers=people["boss"])
    assert r.status == 200, await r.text()


async def code_of(client, headers) -> str:
    r = await client.get(f"{M}/referral", headers=headers)
    assert r.status == 200, await r.text()
    return (await r.json())["code"]


async def points_of(client, headers) -> int:
    return (await (await client.get(M, headers=headers)).json())["points"]


async def test_rewards_for_real_actions_only_and_once(client, db, people):
    r = await client.post("/api/v1/admin/marketing/coupon-templates", headers=people["boss"],
                          json={"name_zh": "邀请有礼", "kind": "fixed", "value": 500,
                                "total_limit": 10, "valid_days": 30})
    template = (await r.json())["id"]
    await setup_rules(client, people, template)
    await register(client, people["alice"])
    code = await code_of(client, people["alice"])
    assert await code_of(client, people["alice"]) == code  # one code per member
    # Sharing the code (fetching it, showing it) earned nothing.
    assert await points_of(client, people["alice"]) == 0

    bob = await register(client, people["bob"])
    r = await client.post(f"{M}/referral/accept", json={"code": code}, headers=people["bob"])
    assert r.status == 200, await r.text()
    assert [(x["event"], x["points"]) for x in (await r.json())["rewards"]] == [("register", 20)]
    # Accepting again (a retry) gives nothing more.
    r = await client.post(f"{M}/referral/accept", json={"code": code.lower()},
                          headers=people["bob"])
    assert r.status == 200
    assert await points_of(client, people["bob"]) == 20
    assert await points_of(client, people["alice"]) == 10

    # The first paid purchase: bob's kiosk order after accepting.
    async with db.session() as s:
        await s.execute(update(Order).where(Order.order_no == "S1-1")
                        .values(member_id=bob["member_id"], paid_at=now()))
    for _ in range(2):  # a second run (or worker) rewards nothing twice
        out = await (await client.post(f"{A}/programs/sync", headers=people["boss"])).json()
    assert out["first_purchases_rewarded"] == 0
    assert await points_of(client, people["alice"]) == 110
    mine = await (await client.get(f"{M}/referral", headers=people["alice"])).json()
    assert mine["invitees"] == 1
    first = next(x for x in mine["rewards"] if x["event"] == "first_purchase")
    assert first["points"] == 100 and first["coupon_id"]
    async with db.read() as s:
        coupon = await s.get(Coupon, first["coupon_id"])
        assert coupon.owner == mine["rewards"][0]["member_id"] and coupon.channel == "referral"
        assert await s.scalar(select(func.count()).select_from(ReferralReward)) == 3
        assert await s.scalar(select(func.count()).select_from(PointsEntry)
                              .where(PointsEntry.source_type == "referral")) == 3
    listed = await (await client.get(f"{A}/referrals", headers=people["boss"])).json()
    assert listed["total"] == 1 and listed["items"][0]["first_order_no"] == "S1-1"


async def test_concurrent_acceptances_reward_once(client, db, people):
    await setup_rules(client, people)
    await register(client, people["alice"])
    code = await code_of(client, people["alice"])
    await register(client, people["bob"])
    rs = await asyncio.gather(*[client.post(f"{M}/referral/accept", json={"code": code},
                                            headers=people["bob"]) for _ in range(5)])
    assert {r.status for r in rs} <= {200, 409}
    assert await points_of(client, people["bob"]) == 20
    assert await points_of(client, people["alice"]) == 10


async def test_self_second_inviter_late_and_cycles_are_refused(client, db, people):
    await setup_rules(client, people)
    alice = await register(client, people["alice"])
    bob = await register(client, people["bob"])
    carol_h, _ = await mp_login(client, "carol-code")
    await register(client, carol_h)
    a_code = await code_of(client, people["alice"])
    b_code = await code_of(client, people["bob"])
    c_code = await code_of(client, carol_h)

    r = await client.post(f"{M}/referral/accept", json={"code": a_code}, headers=people["alice"])
    assert r.status == 409 and "yourself" in await r.text()
    r = await client.post(f"{M}/referral/accept", json={"code": "ZZZZZZZZ"},
                          headers=people["alice"])
    assert r.status == 404
    # alice invites bob, bob invites carol: carol's code for alice would close a circle,
    # and so would bob's.
    assert (await client.post(f"{M}/referral/accept", json={"code": a_code},
                              headers=people["bob"])).status == 200
    assert (await client.post(f"{M}/referral/accept", json={"code": b_code},
                              headers=carol_h)).status == 200
    for code in (b_code, c_code):
        r = await client.post(f"{M}/referral/accept", json={"code": code},
                              headers=people["alice"])
        assert r.status == 409 and "circle" in await r.text()
    # A second inviter for bob.
    r = await client.post(f"{M}/referral/accept", json={"code": c_code}, headers=people["bob"])
    assert r.status == 409
    # A member of long standing cannot accept.
    dave_h, _ = await mp_login(client, "dave-code")
    dave = await register(client, dave_h)
    async with db.session() as s:
        await s.execute(update(MemberRecord).where(MemberRecord.id == dave["member_id"])
                        .values(registered_at=now() - timedelta(days=30)))
    r = await client.post(f"{M}/referral/accept", json={"code": a_code}, headers=dave_h)
    assert r.status == 409
    # Not a member: 404; store staff may not set the rules.
    eve_h, _ = await mp_login(client, "eve-code")
    assert (await client.post(f"{M}/referral/accept", json={"code": a_code},
                              headers=eve_h)).status == 404
    assert (await client.put(f"{A}/referrals/rules", json=RULES,
                             headers=people["clerk1"])).status == 403
    r = await client.put(f"{A}/referrals/rules", headers=people["boss"], json={"items": [
        {"event": "register", "beneficiary": "invitee", "coupon_template_id": 999}]})
    assert r.status == 400
    assert alice["member_id"] != bob["member_id"]


async def test_register_with_an_invitation_code(client, db, people):
    await setup_rules(client, people)
    await register(client, people["alice"])
    code = await code_of(client, people["alice"])
    # A wrong code: nothing registered, nothing given.
    r = await client.post(f"{M}/register", json={"invite_code": "ZZZZZZZZ"},
                          headers=people["bob"])
    assert r.status == 404
    assert (await client.get(M, headers=people["bob"])).status == 404
    bob = await register(client, people["bob"], invite_code=code)
    assert bob["points"] == 20
    assert await points_of(client, people["alice"]) == 10
    mine = await (await client.get(f"{M}/referral", headers=people["bob"])).json()
    assert mine["invited_by"] and mine["invited_by"] != bob["member_id"]
    # Registering again (idempotent) with the same code gives nothing more.
    again = await register(client, people["bob"], invite_code=code)
    assert again["points"] == 20
