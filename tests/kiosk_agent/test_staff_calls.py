"""呼叫店员 at the kiosk (kiosk_agent.staff_calls): the shopper's card opens one call, a
staff badge scanned at the kiosk answers it (recorded), the call survives a restart.
Through the broker and the bridge: tests/cloud_bridge/selling/test_staff_calls.py."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace

import pytest

from contract.signing import generate_signing_key, public_key_pem
from kiosk_agent import assembly
from kiosk_agent.agent import Agent
from kiosk_agent.checkout import State
from kiosk_agent.config import AgentConfig
from kiosk_agent.staff_calls import StaffCalls, staff_calls
from tests.kiosk_agent.sales import FakePayments, make_book
from tests.kiosk_agent.test_cart_edits import KEY, badge, product, scan


@pytest.fixture
async def agent(tmp_path: Path, monkeypatch):
    """A started agent (no MQTT) with the test chain's badge key."""
    monkeypatch.setenv("KIOSK_BADGE_PUBKEY", public_key_pem(KEY).decode())
    config = AgentConfig.model_validate({"journal": {"path": str(tmp_path / "j.db")},
                                         "mqtt": {"enabled": False}})
    a = Agent(config, payments=FakePayments(), book=make_book())
    runner = asyncio.create_task(a.run())
    await asyncio.wait_for(a.started.wait(), 5)
    yield a
    a.stop()
    await asyncio.wait_for(runner, 10)


async def card(agent, text: str) -> None:
    """The shopper shows an action card (what ScanComponent does with one)."""
    await assembly.ScanComponent._action(SimpleNamespace(agent=agent), text)


async def test_card_calls_once_and_a_badge_at_an_idle_kiosk_only_answers(agent, tmp_path):
    await card(agent, assembly.ACTION_CALL_STAFF)
    first = staff_calls(agent).current
    assert first is not None and first.active
    await card(agent, assembly.ACTION_CALL_STAFF)  # pressed again: the same call
    assert staff_calls(agent).current.call_id == first.call_id
    # A restarted agent still has the open call (kept beside the journal).
    assert StaffCalls(agent, tmp_path / "staff_call.json").current.active
    # A forged badge answers nothing.
    refusal = await agent.handle_scan(scan(badge(key=generate_signing_key())))
    assert refusal is not None and staff_calls(agent).active
    assert await agent.handle_scan(scan(badge("e5"))) is None
    call = staff_calls(agent).current
    assert (call.active, call.answered_by) == (False, "e5")
    assert agent.checkout.state == State.IDLE  # the badge did not open maintenance too
    (approval,) = await agent.journal.staff_approvals()
    assert (approval.staff_id, approval.action) == ("e5", "answer_call")
    # With no call open, the same badge does what badges do (maintenance).
    assert await agent.handle_scan(scan(badge("e5"))) is None
    assert agent.checkout.state == State.MAINTENANCE


async def test_a_badge_answering_during_a_sale_also_approves_the_age_check(agent):
    await agent.handle_scan(product("SKU-BEER"))
    await card(agent, assembly.ACTION_CALL_STAFF)
    assert agent.checkout.needs_staff
    assert await agent.handle_scan(scan(badge("e6"))) is None
    assert not staff_calls(agent).active and not agent.checkout.needs_staff
    assert [a.action for a in await agent.journal.staff_approvals()] == ["age_check",
                                                                         "answer_call"]
