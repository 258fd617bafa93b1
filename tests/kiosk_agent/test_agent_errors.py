"""Agent.handle_scan: an unexpected error never leaves the checkout wedged."""

from __future__ import annotations

import logging
from types import SimpleNamespace

from kiosk_agent.agent import Agent
from kiosk_agent.checkout import Checkout, State
from kiosk_agent.config import AgentConfig
from tests.kiosk_agent.sales import FakePayments, make_book

WECHAT = "134567890123456789"
ALIPAY = "281234567890123456"


def scan(kind: str, text: str) -> SimpleNamespace:
    return SimpleNamespace(kind=kind, text=text, symbology="")


def make_agent(tmp_path) -> Agent:
    config = AgentConfig.model_validate({"journal": {"path": str(tmp_path / "journal.db")},
                                         "mqtt": {"enabled": False}})
    agent = Agent(config, payments=FakePayments(), book=make_book())
    agent.receipt_wait_s = 0.0
    return agent


def fail_once(obj, name: str, monkeypatch) -> None:
    real = getattr(obj, name)

    async def broken(*args, **kwargs):
        monkeypatch.setattr(obj, name, real)
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(obj, name, broken)


async def test_error_while_committing_a_payment_leaves_a_usable_checkout(
    tmp_path, monkeypatch, caplog
):
    agent = make_agent(tmp_path)
    async with agent.journal:
        co = agent.checkout = Checkout(agent.journal, agent.book, agent.payments)
        assert await agent.handle_scan(scan("product", "SKU-WATER")) is None
        fail_once(agent.journal, "commit_sale", monkeypatch)
        with caplog.at_level(logging.INFO):
            refusal = await agent.handle_scan(scan("wechat", WECHAT))
        assert refusal is not None and refusal.code == "internal_error"
        assert refusal.zh and refusal.en
        # Nothing lost: the cart is there, the attempt is left for the cloud to settle.
        assert co.state == State.AWAITING_PAYMENT and len(co.items) == 1
        (attempt,) = await agent.journal.payment_attempts()
        assert attempt.status == "unknown"
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1
        assert WECHAT not in caplog.text
        # The first code may well have been charged: a second one is refused (正在确认支付)
        # until the cloud settles the attempt, so the shopper is never charged twice.
        refusal = await agent.handle_scan(scan("alipay", ALIPAY))
        assert refusal is not None and refusal.code == "payment_confirming"
        assert len(await agent.journal.payment_attempts()) == 1


async def test_error_after_the_sale_was_committed_completes_it(tmp_path, monkeypatch):
    agent = make_agent(tmp_path)
    agent.receipt_wait_s = 5.0
    async with agent.journal:
        co = agent.checkout = Checkout(agent.journal, agent.book, agent.payments)
        await agent.handle_scan(scan("product", "SKU-WATER"))
        fail_once(agent.journal, "print_jobs_pending", monkeypatch)
        refusal = await agent.handle_scan(scan("wechat", WECHAT))
        assert refusal is not None and refusal.code == "internal_error"
        assert co.state == State.COMPLETED  # paid and committed; the receipt job waits
        assert len(await agent.journal.orders()) == 1
        assert len(await agent.journal.print_jobs_pending()) == 1
        assert await agent.handle_scan(scan("product", "SKU-CHIPS")) is None
        assert co.state == State.SCANNING
