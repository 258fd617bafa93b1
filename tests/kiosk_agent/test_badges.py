"""Signed staff badges at the kiosk, through the agent's scan path (``Agent.handle_scan``):
only a valid badge approves an age check or opens maintenance; each approval is in the
journal with its ``staff.approved`` event; everything else is refused with a reason."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from contract.codes import classify
from contract.pricebook import PriceBook, StaffRevocations
from contract.signing import generate_signing_key, public_key_pem
from contract.tokens import issue_token
from kiosk_agent.agent import Agent
from kiosk_agent.checkout import State
from kiosk_agent.config import AgentConfig
from tests.kiosk_agent.sales import FakePayments, make_book

KEY = generate_signing_key()


def badge(staff="e7", store="store1", ttl_s=3600, key=KEY, now=None, token_id=None, role=None):
    return issue_token(key, kind="staff", subject=staff, store=store, ttl_s=ttl_s, now=now,
                       token_id=token_id, role=role)


def scan(text: str):
    kind = classify(text, "QRCODE")
    return SimpleNamespace(kind=kind, text=text, symbology="QRCODE")


@pytest.fixture
async def agent(tmp_path: Path, monkeypatch):
    """A started agent (no MQTT) whose badge key is the test chain's."""
    monkeypatch.setenv("KIOSK_BADGE_PUBKEY", public_key_pem(KEY).decode())
    config = AgentConfig.model_validate({"journal": {"path": str(tmp_path / "j.db")},
                                         "mqtt": {"enabled": False},
                                         "staff": {"badge_max_days": 30}})
    a = Agent(config, payments=FakePayments(), book=make_book())
    runner = asyncio.create_task(a.run())
    await asyncio.wait_for(a.started.wait(), 5)
    yield a
    a.stop()
    await asyncio.wait_for(runner, 5)


async def _beer_cart(agent):
    assert await agent.handle_scan(SimpleNamespace(kind="product", text="SKU-BEER")) is None
    assert agent.checkout.needs_staff


async def test_valid_badge_approves_the_age_check_and_is_recorded(agent):
    await _beer_cart(agent)
    text = badge(role="supervisor", token_id="b0001")
    assert scan(text).kind == "staff"
    assert await agent.handle_scan(scan(text)) is None
    assert not agent.checkout.needs_staff and agent.checkout.staff_approved_by == "e7"
    [approval] = await agent.journal.staff_approvals()
    assert (approval.staff_id, approval.badge_id, approval.role, approval.action) == (
        "e7", "b0001", "supervisor", "age_check")
    assert abs(approval.at - time.time()) < 5
    rows = await agent.journal.outbox_pending(10)
    [event] = [json.loads(r.payload) for r in rows if r.type == "staff.approved"]
    assert event["event_id"] == approval.event_id and event["data"]["staff_id"] == "e7"


@pytest.mark.parametrize("make,code,zh", [
    (lambda: "STAFF:e7", "badge_unsigned", "签名工牌"),
    (lambda: badge(store="store2"), "badge_wrong_store", "不属于本店"),
    (lambda: badge(key=generate_signing_key()), "badge_unknown_key", "工牌无效"),
    (lambda: badge(ttl_s=60, now=time.time() - 120), "badge_expired", "过期"),
    # a year-long badge issued 31 days ago: past the kiosk's 30-day cap
    (lambda: badge(ttl_s=365 * 86400, now=time.time() - 31 * 86400), "badge_expired", "过期"),
])
async def test_invalid_badges_are_refused_with_a_reason(agent, make, code, zh):
    await _beer_cart(agent)
    refusal = await agent.handle_scan(scan(make()))
    assert refusal is not None and refusal.code == code and zh in refusal.zh and refusal.en
    assert agent.checkout.needs_staff
    assert await agent.journal.staff_approvals() == []


async def test_badge_revoked_by_the_price_book_is_refused(agent):
    lost = badge(token_id="lost01")
    book = make_book()
    agent.checkout.book = agent.book = PriceBook.model_validate(
        {**book.model_dump(), "version": "test-2",
         "staff_revocations": StaffRevocations(version=1, token_ids=("lost01",))})
    await _beer_cart(agent)
    refusal = await agent.handle_scan(scan(lost))
    assert refusal is not None and refusal.code == "badge_revoked"
    assert await agent.handle_scan(scan(badge(token_id="new001"))) is None  # replacement


async def test_badge_opens_and_closes_maintenance_at_an_idle_kiosk(agent):
    assert agent.checkout.state == State.IDLE
    assert await agent.handle_scan(scan(badge())) is None
    assert agent.checkout.state == State.MAINTENANCE
    assert await agent.handle_scan(scan(badge())) is None
    assert agent.checkout.state == State.IDLE
    actions = [a.action for a in await agent.journal.staff_approvals()]
    assert actions == ["maintenance_off", "maintenance_on"]
    refusal = await agent.handle_scan(scan("STAFF:e7"))
    assert refusal.code == "badge_unsigned" and agent.checkout.state == State.IDLE


async def test_a_badge_revoked_by_a_book_arriving_mid_cart_is_refused(agent):
    await _beer_cart(agent)  # the cart was started on the old book (no revocations)
    book = make_book()
    agent.book = PriceBook.model_validate(
        {**book.model_dump(), "version": "test-3",
         "staff_revocations": StaffRevocations(version=2, subjects={"e7": int(time.time())})})
    assert agent.checkout.book is not agent.book
    refusal = await agent.handle_scan(scan(badge(now=time.time() - 60)))
    assert refusal is not None and refusal.code == "badge_revoked"
    assert agent.checkout.needs_staff
