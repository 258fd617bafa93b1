"""Coupons and points at the kiosk, through the agent's scan path (no MQTT: offline).

A coupon QR from the mini-program's wallet is verified with the chain's member key, must
belong to the member on the cart and, offline, spends one of the kiosk's pre-reserved
slots; the sale carries the code and the slot for the cloud. Points are used with the
``KIOSK:USE_POINTS`` card, within the member code's snapshot. Forged, expired, another
member's coupons and a pool without slots are refused with a reason, changing nothing.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from cloud_bridge.members.member_code import issue_member_code
from contract.codes import classify, display_text
from contract.coupon_codes import COUPON_KIND, SLOT_KIND, CouponClaim
from contract.pricebook import Coupon, PriceBook
from contract.signing import generate_signing_key, public_key_pem
from contract.tokens import issue_token
from contract.wire.events import OrderCompletedData
from kiosk_agent import assembly
from kiosk_agent.agent import Agent
from kiosk_agent.checkout import Refusal, State
from kiosk_agent.config import AgentConfig
from kiosk_agent.coupons import kiosk_coupons
from tests.kiosk_agent.sales import FakePayments, make_book

CHAIN = generate_signing_key()
OTHER_CHAIN = generate_signing_key()
TPL = Coupon(coupon_id="tpl7", kind="fixed", value=300, threshold=1000, member_only=True,
             label_zh="满10减3", label_en="3 off 10")


def book() -> PriceBook:
    return PriceBook.model_validate({**make_book().model_dump(), "coupons": (TPL,)})


def scan(text: str) -> SimpleNamespace:
    return SimpleNamespace(kind=classify(text, "QRCODE"), text=text, symbology="QRCODE")


def coupon_code(coupon_id: str = "c" + "1" * 20, owner: str = "m0123abcd", *,
                key=CHAIN, store: str = "*", ttl_s: int = 120, now: float | None = None,
                definition: str = "tpl7") -> str:
    claim = CouponClaim(owner, definition, int(time.time()) + 30 * 86400)
    return issue_token(key, kind=COUPON_KIND, subject=coupon_id, store=store, ttl_s=ttl_s,
                       role=claim.role(), now=now)


def slot(kiosk: str = "kiosk1", store: str = "store1", key=CHAIN) -> str:
    return issue_token(key, kind=SLOT_KIND, subject=kiosk, store=store, ttl_s=86400)


@pytest.fixture
async def agent(tmp_path: Path, monkeypatch):
    """A started agent (no MQTT: offline) holding the chain's member public key."""
    monkeypatch.setenv("KIOSK_MEMBER_PUBKEY", public_key_pem(CHAIN).decode())
    config = AgentConfig.model_validate({"journal": {"path": str(tmp_path / "j.db")},
                                         "mqtt": {"enabled": False}})
    a = Agent(config, payments=FakePayments(), book=book())
    runner = asyncio.create_task(a.run())
    await asyncio.wait_for(a.started.wait(), 5)
    yield a
    a.stop()
    await asyncio.wait_for(runner, 5)


async def member_cart(agent: Agent, points: int = 1200) -> None:
    assert await agent.handle_scan(scan(issue_member_code(CHAIN, "m0123abcd", "gold", points,
                                                          0))) is None
    for code in ("SKU-CHIPS", "SKU-CHIPS"):  # 2 x 6.00 member price
        assert await agent.handle_scan(SimpleNamespace(kind="product", text=code)) is None


async def test_an_offline_coupon_spends_a_slot_and_travels_with_the_sale(agent, tmp_path):
    kiosk_coupons(agent).set_pool([slot(), slot()])
    await member_cart(agent)
    text = coupon_code()
    assert scan(text).kind == "coupon"
    assert "c111" not in display_text(text, "coupon")  # a bearer token is masked in logs
    assert await agent.handle_scan(scan(text)) is None
    co = agent.checkout
    assert (co.priced.subtotal, co.priced.total, co.priced.coupons) == (1300, 900, ["c" + "1" * 20])
    assert kiosk_coupons(agent).slots_left() == 1
    # The same coupon again is refused (it is on the cart).
    refusal = await agent.handle_scan(scan(text))
    assert refusal is not None and refusal.code == "coupon_already"
    co.request_payment()
    result = await co.pay("wechat", "134567890123456789")
    assert result.status == "paid"
    sale = OrderCompletedData.model_validate(result.sale.order.model_dump())
    assert sale.coupons == ["c" + "1" * 20] and sale.total == 900
    (proof,) = sale.coupon_proofs
    assert proof.code == text and proof.slot is not None
    # The spent slot survives a restart of the agent (kept next to the journal).
    kept = json.loads((tmp_path / "coupon_pool.json").read_text())
    assert len(kept["spent"]) == 1


async def test_refusals_change_nothing(agent):
    kiosk_coupons(agent).set_pool([slot()])
    for product in ("SKU-CHIPS", "SKU-CHIPS"):
        await agent.handle_scan(SimpleNamespace(kind="product", text=product))
    refusal = await agent.handle_scan(scan(coupon_code()))
    assert refusal is not None and refusal.code == "coupon_needs_member"
    await agent.handle_scan(scan(issue_member_code(CHAIN, "m0123abcd", "gold", 0, 0)))
    past = time.time() - 600
    cases = {
        "coupon_not_yours": coupon_code(owner="m-other"),
        "coupon_unknown_key": coupon_code(key=OTHER_CHAIN),  # forged: not the chain's key
        "coupon_expired": coupon_code(now=past, ttl_s=120),
        "coupon_wrong_store": coupon_code(store="store9"),
        "coupon_unknown_offline": coupon_code(definition="tpl999"),  # not in the book
    }
    for code, text in cases.items():
        refusal = await agent.handle_scan(scan(text))
        assert refusal is not None and refusal.code == code, (code, refusal)
        assert refusal.zh and refusal.en
    co = agent.checkout
    assert co.coupons == () and co.priced.total == 1200
    assert kiosk_coupons(agent).slots_left() == 1  # nothing spent by a refusal


async def test_without_a_slot_of_its_own_an_offline_kiosk_refuses_coupons(agent):
    # Slots of another kiosk, another store or another chain are no use here.
    kiosk_coupons(agent).set_pool([slot(kiosk="kiosk2"), slot(store="store9"),
                                   slot(key=OTHER_CHAIN)])
    await member_cart(agent)
    refusal = await agent.handle_scan(scan(coupon_code()))
    assert refusal is not None and refusal.code == "coupon_no_slot"
    assert agent.checkout.coupons == ()


async def test_points_within_the_member_codes_snapshot(agent):
    await member_cart(agent, points=300)
    scans = assembly.ScanComponent.__new__(assembly.ScanComponent)
    scans.agent = agent
    await scans._action(assembly.ACTION_USE_POINTS)
    co = agent.checkout
    # 300 points = 3.00 off (1 point a fen), never more than the snapshot holds.
    assert (co.priced.points_redeemed, co.priced.total) == (300, 900)
    assert co.state == State.MEMBER_ATTACHED
    co.request_payment()
    result = await co.pay("wechat", "134567890123456789")
    assert result.sale.order.points_redeemed == 300


async def test_points_refused_without_member_or_points(agent):
    for product in ("SKU-CHIPS",):
        await agent.handle_scan(SimpleNamespace(kind="product", text=product))
    co = agent.checkout
    with pytest.raises(Refusal) as err:
        co.use_points()
    assert err.value.code == "points_needs_member"
    await agent.handle_scan(scan(issue_member_code(CHAIN, "m0123abcd", "gold", 0, 0)))
    with pytest.raises(Refusal) as err:
        co.use_points()
    assert err.value.code == "no_points"
    assert co.redeem_points == 0 and co.priced.points_redeemed == 0


class _Display:
    """A customer display that keeps what it was asked to show."""

    def __init__(self) -> None:
        self.totals: list[int] = []

    async def show_welcome(self) -> None:
        return None

    async def show_total(self, total: int, count: int) -> None:
        self.totals.append(total)

    async def show_item(self, *args: object) -> None:
        return None


async def test_the_display_shows_the_total_after_a_coupon_and_points(agent):
    from tests.support.waiting import until

    kiosk_coupons(agent).set_pool([slot()])
    await member_cart(agent, points=100)
    display = _Display()
    component = assembly.DisplayComponent(agent, display)
    stop = asyncio.Event()
    task = asyncio.create_task(component.run(stop))
    await until(lambda: component._listener in agent.checkout.listeners, what="listening")
    assert await agent.handle_scan(scan(coupon_code())) is None
    await until(lambda: display.totals[-1:] == [900], what="the coupon's total shown")
    agent.checkout.use_points()
    await until(lambda: display.totals[-1:] == [800], what="the total after 100 points")
    stop.set()
    await asyncio.wait_for(task, 5)
