"""Assembly factories: each builds its part of the kiosk from the config, on fakes."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from drivers.printer import DummyPrinter, PrinterStatus
from kiosk_agent import assembly
from kiosk_agent.agent import Agent
from kiosk_agent.config import AgentConfig
from kiosk_agent.wire.events import PRINT_DONE, PRINT_FAILED
from tests.kiosk_agent.sales import FakePayments, make_book, make_order

RETRY_S = 0.05  # printer.retry_s, shrunk: the spooler re-checks the printer this often


def make_config(tmp_path: Path, **sections: Any) -> AgentConfig:
    """A config on fakes: no MQTT, no camera, no printer or display unless asked for."""
    raw: dict[str, Any] = {
        "journal": {"path": str(tmp_path / "journal.db")},
        "mqtt": {"enabled": False},
        "camera": {"kind": "none"},
        "printer": {"kind": "none"},
        "display": {"kind": "none"},
    }
    for name, values in sections.items():
        raw[name] = {**raw.get(name, {}), **values}
    return AgentConfig.model_validate(raw)


async def until(predicate, limit_s: float = 5.0) -> None:
    """Wait (bounded) until an async or sync predicate holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


class Running:
    """An agent running in a task for the duration of an ``async with``."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Agent:
        self.task = asyncio.create_task(self.agent.run())
        await until(self.agent.started.is_set)
        return self.agent

    async def __aexit__(self, *exc: object) -> None:
        self.agent.stop()
        assert self.task is not None
        await asyncio.wait_for(self.task, 10)


async def print_events(journal) -> list[tuple[str, dict[str, Any]]]:
    rows = await journal.outbox_pending(1000)
    return [(r.type, json.loads(r.payload)["data"]) for r in rows if r.type.startswith("print.")]


# --------------------------------------------------------------------------- printer


async def test_print_outcomes_reach_the_outbox_once_per_transition(tmp_path):
    config = make_config(tmp_path, printer={"kind": "dummy", "retry_s": RETRY_S})
    agent = Agent(config, payments=FakePayments(), book=make_book())
    component = assembly.printer_component(agent)
    assert isinstance(component.printer, DummyPrinter)
    printer = component.printer
    printer.set_status(PrinterStatus(online=True, paper="out"))
    agent.add_component("printer", component)
    async with Running(agent) as running:
        journal = running.journal
        sale = await journal.commit_sale(make_order())
        await until(lambda: component.spooler is not None
                    and component.spooler.health()["state"] == "error")
        await until(lambda: print_events(journal))
        await asyncio.sleep(RETRY_S * 5)  # more passes, still out of paper: no news
        printer.set_status(PrinterStatus(online=True, paper="ok"))
        printer.fail_writes = "print head too hot"
        await until(lambda: _count(journal, PRINT_FAILED, 2))
        await asyncio.sleep(RETRY_S * 5)  # every pass fails the same way: still no news
        printer.fail_writes = None
        await until(lambda: _count(journal, PRINT_DONE, 1))
        await asyncio.sleep(RETRY_S * 4)
        events = await print_events(journal)
    assert [(kind, data["reason"] if kind == PRINT_FAILED else None) for kind, data in events] == [
        (PRINT_FAILED, "paper out"), (PRINT_FAILED, "print head too hot"), (PRINT_DONE, None)]
    done = events[-1][1]
    assert done["order_no"] == sale.order_no and done["kind"] == "receipt"
    assert done["job_id"] == sale.print_job_id and "reason" not in done
    assert printer.output.count(b"\x1dVB\x00") == 1  # the receipt came out once


async def _count(journal, kind: str, n: int) -> bool:
    return sum(1 for k, _ in await print_events(journal) if k == kind) >= n
