"""Automatic journal pruning (kiosk_agent.journal_pruning): the running agent archives and
prunes acknowledged old sales on its schedule, never an unacknowledged or recent one,
and never while a sale is in progress."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace

import pytest

from kiosk_agent import journal_pruning
from kiosk_agent.agent import Agent
from kiosk_agent.config import AgentConfig
from kiosk_agent.journal.retention import read_archives
from kiosk_agent.journal_pruning import pruning_component
from tests.kiosk_agent.journal.test_retention import kept, make_journal
from tests.kiosk_agent.sales import FakePayments, make_book


def agent_for(db: Path, **journal) -> Agent:
    cfg = AgentConfig.model_validate({"journal": {"path": str(db), **journal},
                                      "mqtt": {"enabled": False}})
    return Agent(cfg, payments=FakePayments(), book=make_book())


async def test_the_agent_prunes_on_its_schedule_and_keeps_what_is_not_acknowledged(tmp_path):
    db = tmp_path / "journal.db"
    groups = await make_journal(db, 20, acked_old=8, acked_new=5)
    agent = agent_for(db, prune_every_h=0.0001, archive_dir=str(tmp_path / "arch"))
    pruner = pruning_component(agent)
    assert pruner is not None
    pruner.first_delay_s = 0.05
    agent.add_component("journal_pruning", pruner)
    runner = asyncio.create_task(agent.run())
    try:
        await asyncio.wait_for(pruner.ran.wait(), 10)
        assert pruner.last_pruned == 8 and pruner.health()["state"] == "ok"
        pruner.ran.clear()
        await asyncio.wait_for(pruner.ran.wait(), 10)  # the next period: nothing more
        assert pruner.runs >= 2 and pruner.last_pruned == 0
    finally:
        agent.stop()
        await asyncio.wait_for(runner, 10)
    assert kept(db) == {no for no, g in groups.items() if g != "old"}
    archived = {r["order_no"] for r in read_archives(tmp_path / "arch") if r["table"] == "orders"}
    assert archived == {no for no, g in groups.items() if g == "old"}
    assert "journal_pruning" in agent.health_report()


async def test_no_pruning_while_a_sale_is_in_progress(tmp_path, monkeypatch):
    monkeypatch.setattr(journal_pruning, "IDLE_POLL_S", 0.02)
    db = tmp_path / "journal.db"
    await make_journal(db, 6, acked_old=3, acked_new=0)
    agent = agent_for(db, prune_every_h=24)
    pruner = pruning_component(agent)
    assert pruner is not None
    pruner.first_delay_s = 0.3
    agent.add_component("journal_pruning", pruner)
    runner = asyncio.create_task(agent.run())
    try:
        await asyncio.wait_for(agent.started.wait(), 5)
        await agent.handle_scan(SimpleNamespace(kind="product", text="SKU-WATER"))
        await asyncio.sleep(0.6)  # the first run is due, but a shopper is scanning
        assert pruner.runs == 0 and len(kept(db)) == 6
        await agent.checkout.cancel()
        await asyncio.wait_for(pruner.ran.wait(), 5)
        assert pruner.last_pruned == 3 and len(kept(db)) == 3
    finally:
        agent.stop()
        await asyncio.wait_for(runner, 10)


def test_schedule_off_and_bad_retention_refused(tmp_path):
    assert pruning_component(agent_for(tmp_path / "j.db", prune_every_h=0)) is None
    with pytest.raises(ValueError):
        AgentConfig.model_validate({"journal": {"retention_days": 0}})
