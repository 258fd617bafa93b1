"""Coupons used at kiosks, reconciled at ingest through the broker (the real Ingest).

Offline, a kiosk spends one of its pre-reserved slots for a coupon; the sale carries the
coupon code and the slot. The cloud uses the coupon once: the same coupon spent at a
second kiosk, a slot of another kiosk, a slot spent twice, another member's coupon and a
forged code are refused and flagged (``coupon_sale_refused``), the sale itself stands.
A coupon's QR comes from the mini-program route (mine only); the price book carries the
definitions that an offline kiosk prices with, the same fen as the cloud.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from cloud_bridge.marketing import service as marketing
from cloud_bridge.marketing.kiosk import (
    ALERT_KIND,
    definition_of,
    issue_coupon_code,
    reserve_pool,
    slot_tokens,
    with_coupon_definitions,
)
from cloud_bridge.marketing.models import Coupon, CouponSlot, CouponTemplate
from cloud_bridge.members import service as members
from cloud_bridge.members.member_code import issue_member_code
from cloud_bridge.members.models import MemberRecord
from cloud_bridge.models import Alert
from contract.coupon_codes import parse_coupon_role, priced_instance
from contract.pricing import CartLine, Member, PricingContext, price_cart
from contract.signing import private_key_pem
from contract.tokens import TokenVerifier
from tests.cloud_bridge.security.test_member_sales import (
    BALANCE,
    CHAIN,
    STRANGER,
    _publish_all,
    _sale,
)
from tests.kiosk_agent.sales import make_book

from .conftest import TEMPLATE, M, register

STORE = "s1"


async def _member_with_coupon(db, openid: str = "o-alice") -> tuple[str, Coupon, CouponTemplate]:
    async with db.session() as s:
        m, _ = await members.register(s, appid="wx1", openid=openid)
        await s.execute(MemberRecord.__table__.update().where(MemberRecord.id == m.id)
                        .values(registered_at=datetime.now(UTC) - timedelta(days=1)))
        t = (await s.scalars(select(CouponTemplate))).first()
        if t is None:
            t = await marketing.create_template(
                s, created_by="test", **{**TEMPLATE, "value": 300, "threshold": 1000,
                                         "total_limit": 10})
        c = await marketing.claim(s, t.id, m.id, channel="birthday")
        await s.commit()
        return m.id, c, t


def _with_coupon(ev, coupon_id: str, code: str, slot: str | None, off: int = 300):
    d = ev.data
    d["coupons"] = [coupon_id]
    d["coupon_proofs"] = [{"coupon_id": coupon_id, "code": code, "slot": slot}]
    d["discounts"] = [{"id": coupon_id, "kind": "coupon", "amount": off, "label_zh": "券"}]
    d["offline"] = True
    return ev


async def test_offline_coupons_are_used_once_and_the_second_kiosk_is_flagged(
        broker, db, db_url, monkeypatch):
    monkeypatch.setenv("BRIDGE_MEMBER_SIGNING_KEY", private_key_pem(CHAIN).decode())
    alice, coupon, tpl = await _member_with_coupon(db)
    _bob, bobs, _ = await _member_with_coupon(db, "o-bob")
    async with db.session() as s:  # alice's second coupon (another template)
        t2 = await marketing.create_template(s, created_by="test", **{
            **TEMPLATE, "value": 300, "threshold": 1000, "total_limit": 10})
        carols = await marketing.claim(s, t2.id, alice)
        await s.commit()
    async with db.session() as s:
        k1 = slot_tokens(CHAIN, await reserve_pool(s, STORE, "k1", size=4))
        k2 = slot_tokens(CHAIN, await reserve_pool(s, STORE, "k2", size=3))
        await s.commit()
    code, _ = issue_coupon_code(CHAIN, coupon, tpl)
    bobs_code, _ = issue_coupon_code(CHAIN, bobs, tpl)
    carols_code, _ = issue_coupon_code(CHAIN, carols, t2)
    member = issue_member_code(CHAIN, alice, "gold", 300, BALANCE)  # _sale's snapshot
    forged = issue_coupon_code(STRANGER, coupon, tpl)[0]
    first = _with_coupon(_sale(0, alice, member, stored_value=False), coupon.id, code, k1[0])
    cases_k1 = {
        "slot_used": _with_coupon(_sale(1, alice, member, stored_value=False), coupon.id,
                                  code, k1[0]),
        "not_members_coupon": _with_coupon(_sale(2, alice, member, stored_value=False),
                                           bobs.id, bobs_code, k1[1]),
        "code_unknown_key": _with_coupon(_sale(3, alice, member, stored_value=False),
                                         coupon.id, forged, k1[2]),
        # A kiosk claiming more off than the coupon gives (the template: 3.00 off).
        "over_value": _with_coupon(_sale(4, alice, member, stored_value=False), carols.id,
                                   carols_code, k1[3], off=900),
    }
    acked, rejected = await _publish_all(broker, db, db_url, [first, *cases_k1.values()])
    assert rejected == {} and len(acked) == 5  # every sale stands: the goods left
    # The same coupon at a second kiosk (both offline), and k1's slot shown by k2.
    member = issue_member_code(CHAIN, alice, "gold", 300, BALANCE)  # shown at k2
    cases_k2 = {
        "coupon_already_used": _with_coupon(_sale(0, alice, member, stored_value=False,
                                                  kiosk="k2"), coupon.id, code, k2[0]),
        "slot_wrong_kiosk": _with_coupon(_sale(1, alice, member, stored_value=False,
                                               kiosk="k2"), coupon.id, code, k1[2]),
    }
    await _publish_all(broker, db, db_url, list(cases_k2.values()), kiosk_id="k2")
    # A resend of the first sale changes nothing (stored once by its event id).
    await _publish_all(broker, db, db_url, [first])

    async with db.read() as s:
        c = await s.get(Coupon, coupon.id)
        b = await s.get(Coupon, bobs.id)
        alerts = {a.order_no: a.detail for a in (await s.scalars(
            select(Alert).where(Alert.kind == ALERT_KIND))).all()}
        slots = {r.id: (r.status, r.order_no) for r in (await s.scalars(
            select(CouponSlot))).all()}
    assert (c.status, c.order_no) == ("used", first.data["order_no"])
    assert b.status == "unused"  # bob's coupon shown on alice's cart is not spent
    for reason, ev in {**cases_k1, **cases_k2}.items():
        assert alerts[ev.data["order_no"]]["reason"] == reason, (reason, alerts)
    assert len(alerts) == len(cases_k1) + len(cases_k2)
    assert "S1." not in str(alerts)  # a coupon code is a bearer token: never in an alert
    # k1's first slot went to the first sale; k2's slot was spent on the refused sale.
    sid = TokenVerifier._parse(k1[0])[0]["jti"]
    assert slots[sid] == ("used", first.data["order_no"])
    assert slots[TokenVerifier._parse(k2[0])[0]["jti"]][0] == "used"


async def test_coupon_qr_route_is_the_owners_and_prices_like_the_cloud(client, people, db):
    boss = people["boss"]
    t = await (await client.post("/api/v1/admin/marketing/coupon-templates", headers=boss,
                                 json={**TEMPLATE, "value": 300, "threshold": 1000})).json()
    await register(client, people["alice"])
    c = await (await client.post(f"{M}/claim", json={"template_id": t["id"]},
                                 headers=people["alice"])).json()
    r = await client.get(f"{M}/{c['id']}/code", headers=people["alice"])
    assert r.status == 200, await r.text()
    got = await r.json()
    assert got["coupon_id"] == c["id"] and 0 < got["expires_in"] <= 180
    r = await client.get(f"{M}/{c['id']}/code", headers=people["bob"])
    assert r.status == 404  # not a member
    await register(client, people["bob"])
    r = await client.get(f"{M}/{c['id']}/code", headers=people["bob"])
    assert r.status == 404 and "S1." not in await r.text()  # another shopper's coupon
    async with db.session() as s:
        row = await s.get(Coupon, c["id"])
        tpl = await s.get(CouponTemplate, t["id"])
        row.status = "used"
        book = await with_coupon_definitions(s, "s1", make_book())
        await s.commit()
    r = await client.get(f"{M}/{c['id']}/code", headers=people["alice"])
    assert r.status == 409  # a used coupon has no QR

    # The book carries the template; the kiosk's instance prices like the cloud's coupon.
    (definition,) = [d for d in book.coupons if d.coupon_id == f"tpl{t['id']}"]
    assert definition == definition_of(tpl)
    claim = parse_coupon_role(TokenVerifier._parse(got["code"])[0]["r"])
    assert claim is not None and claim.owner == row.owner
    kiosk_coupon = priced_instance(definition, row.id, claim)
    cloud_coupon = marketing.pricing_coupon(tpl, row)
    ctx = dict(member=Member(row.owner), now=datetime.now(UTC))
    for qty in (1, 2, 5):
        lines = [CartLine("P2", qty)]
        at_kiosk = price_cart(book, lines, PricingContext(coupons=(kiosk_coupon,), **ctx))
        in_cloud = price_cart(book, lines, PricingContext(coupons=(cloud_coupon,), **ctx))
        assert (at_kiosk.total, at_kiosk.coupons) == (in_cloud.total, in_cloud.coupons), qty
    assert time.time() < claim.valid_until


async def test_the_slot_pool_reaches_its_own_kiosk_only_through_the_signed_shadow(
        db, tmp_path, broker):
    from cloud_bridge.marketing.kiosk import pool_shadow
    from contract.signing import generate_signing_key
    from contract.wire.base import decode
    from contract.wire.shadow import ShadowDesired
    from contract.wire.topics import KioskTopics
    from kiosk_agent.config import AgentConfig
    from kiosk_agent.coupons import KioskCoupons
    from kiosk_agent.link import Link
    from kiosk_agent.shadow import Shadow
    from tests.support.link_helpers import mqtt_section

    command_key = generate_signing_key()
    async with db.session() as s:
        topic, payload = await pool_shadow(s, command_key, CHAIN, STORE, "k1")
        _, again = await pool_shadow(s, command_key, CHAIN, STORE, "k1")
        await s.commit()
    assert topic == KioskTopics(STORE, "k1").shadow_desired
    desired, next_one = decode(ShadowDesired, payload), decode(ShadowDesired, again)
    assert next_one.version == desired.version + 1
    assert next_one.coupon_pool == desired.coupon_pool  # the same reserved slots, re-signed
    assert desired.coupon_pool is not None and len(desired.coupon_pool) == 5

    got: dict[str, list[str]] = {}
    for kiosk in ("k1", "k2"):
        coupons = KioskCoupons([CHAIN.public_key()], STORE, kiosk, tmp_path / f"{kiosk}.json")
        cfg = AgentConfig.model_validate({"kiosk": {"store_id": STORE, "kiosk_id": kiosk}})
        shadow = Shadow(Link(mqtt_section(broker.port), STORE, kiosk), cfg,
                        tmp_path / f"shadow-{kiosk}.json",
                        verify_keys=[command_key.public_key()],
                        on_coupon_pool=lambda tokens, c=coupons, k=kiosk: (
                            got.__setitem__(k, tokens), c.set_pool(tokens)))
        applied = await shadow.apply(desired)
        assert applied == (kiosk == "k1"), kiosk  # k2: signed for k1, refused
        assert coupons.slots_left() == (5 if kiosk == "k1" else 0)
    assert list(got) == ["k1"]


async def test_a_lock_whose_reply_was_lost_and_a_slot_use_the_coupon_once(
        broker, db, db_url, monkeypatch):
    """The kiosk timed out on coupon.reserve (the lock was made) and spent a slot: the
    coupon locked to this very order is used, not refused as taken."""
    monkeypatch.setenv("BRIDGE_MEMBER_SIGNING_KEY", private_key_pem(CHAIN).decode())
    alice, coupon, tpl = await _member_with_coupon(db)
    sale = _sale(0, alice, issue_member_code(CHAIN, alice, "gold", 300, BALANCE),
                 stored_value=False)
    code, _ = issue_coupon_code(CHAIN, coupon, tpl, now=time.time() - 10)  # shown
    async with db.session() as s:
        (slot,) = slot_tokens(CHAIN, await reserve_pool(s, STORE, "k1", size=1))
        await marketing.lock(s, coupon.id, alice, sale.data["order_no"])
        await s.commit()
    await _publish_all(broker, db, db_url, [_with_coupon(sale, coupon.id, code, slot)])
    async with db.read() as s:
        c = await s.get(Coupon, coupon.id)
        alerts = (await s.scalars(select(Alert).where(Alert.kind == ALERT_KIND))).all()
    assert (c.status, c.order_no, alerts) == ("used", sale.data["order_no"], [])
