"""While a payment's outcome is unknown the kiosk says it is still confirming (正在确认支付)
and refuses a second payment code: no second charge while the first may yet be paid."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from kiosk_agent.agent import Agent
from kiosk_agent.checkout import State
from kiosk_agent.config import AgentConfig
from tests.kiosk_agent.sales import FakePayments, Outcome, make_book

CODE1 = "134567890123456789"
CODE2 = "134567890123456790"


async def test_second_code_refused_until_the_first_settles(tmp_path):
    config = AgentConfig.model_validate({"journal": {"path": str(tmp_path / "j.db")},
                                         "mqtt": {"enabled": False}})
    payments = FakePayments(Outcome("unknown", reason="no_reply"), Outcome("paid", "wx-2"))
    agent = Agent(config, payments=payments, book=make_book())
    agent.receipt_wait_s = 0.0  # no printer here: the receipt job just stays queued
    runner = asyncio.create_task(agent.run())
    await asyncio.wait_for(agent.started.wait(), 5)
    try:
        assert await agent.handle_scan(SimpleNamespace(kind="product", text="SKU-WATER")) is None
        assert await agent.handle_scan(SimpleNamespace(kind="wechat", text=CODE1)) is None
        assert agent.checkout.state == State.AWAITING_PAYMENT
        refusal = await agent.handle_scan(SimpleNamespace(kind="wechat", text=CODE2))
        assert refusal is not None and refusal.code == "payment_confirming"
        assert "正在确认支付" in refusal.zh and "still confirming" in refusal.en
        assert len(payments.calls) == 1  # the second code was never sent anywhere
        # The cloud settles the first one as failed (nothing taken): now a code is charged.
        [first] = await agent.journal.payment_attempts(status="unknown")
        await agent.journal.set_payment_attempt_status(first.out_trade_no, "failed",
                                                       reason="reversed")
        assert await agent.handle_scan(SimpleNamespace(kind="wechat", text=CODE2)) is None
        assert len(payments.calls) == 2
        assert agent.checkout.state in (State.PAID, State.PRINTING, State.COMPLETED)
    finally:
        agent.stop()
        await asyncio.wait_for(runner, 5)
