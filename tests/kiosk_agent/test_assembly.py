"""Assembly factories: each builds its part of the kiosk from the config, on fakes."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest

from contract import codes
from contract import pricebook as catalog
from contract.wire.events import PRINT_DONE, PRINT_FAILED
from drivers.display import CustomerDisplay
from drivers.printer import DummyPrinter, PrinterStatus
from drivers.receipt import render_receipt
from kiosk_agent import assembly
from kiosk_agent.agent import Agent
from kiosk_agent.config import AgentConfig
from kiosk_agent.payments import KioskPayments
from kiosk_agent.printing import receipt_options
from tests.drivers.conftest import PtyDevice
from tests.kiosk_agent.sales import FakePayments, make_book, make_order
from tests.support.waiting import until

ROOT = Path(__file__).resolve().parents[2]

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


async def test_file_printer_prints_a_committed_sale_exactly_once(tmp_path):
    out = tmp_path / "receipts.bin"
    config = make_config(tmp_path, printer={"kind": "file", "file_path": str(out),
                                            "retry_s": RETRY_S})
    agent = Agent(config, payments=FakePayments(), book=make_book())
    component = assembly.printer_component(agent)
    assert component is not None
    agent.add_component("printer", component)
    async with Running(agent) as running:
        sale = await running.journal.commit_sale(make_order())
        await until(lambda: _count(running.journal, PRINT_DONE, 1))
        await asyncio.sleep(RETRY_S * 5)  # more spooler passes print nothing more
        assert await running.journal.print_jobs_pending() == []
        assert component.health()["printed_jobs"] == 1
    expected = render_receipt(sale.order, receipt_options(config))
    assert out.read_bytes() == expected


# --------------------------------------------------------------------------- factories


def test_factories_build_nothing_when_their_part_is_off(tmp_path):
    agent = Agent(make_config(tmp_path), payments=FakePayments(), book=make_book())
    assert assembly.scan_component(agent) is None  # camera none, scanner none
    assert assembly.printer_component(agent) is None
    assert assembly.display_component(agent) is None
    assert assembly.link_component(agent) is None  # mqtt.enabled = false
    assert agent.runtime.link is None
    assert assembly.outbox_component(agent) is None
    assert assembly.catalog_component(agent) is None
    assert assembly.commands_component(agent) is None
    assert isinstance(agent.payments, FakePayments)  # nothing replaced the injected gateway


def test_link_factory_builds_the_link_and_the_real_payment_gateway(tmp_path, monkeypatch):
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    config = make_config(tmp_path, mqtt={"enabled": True, "host": "127.0.0.1", "port": 1})
    agent = Agent(config)
    link = assembly.link_component(agent)
    assert link is not None and agent.runtime.link is link
    # The checkout talks to KioskPayments directly: it passes the member itself.
    assert type(agent.payments) is KioskPayments and agent.payments.link is link
    assert isinstance(assembly.outbox_component(agent), assembly.OutboxComponent)
    assert agent.runtime.outbox is not None
    assert isinstance(assembly.catalog_component(agent), assembly.CatalogComponent)
    assert assembly.commands_component(agent) is None  # registers handlers only
    assert {"ping", "maintenance", "reprint", "self_test"} <= set(link.commands.names)


async def test_display_factory_uses_the_configured_encoding(tmp_path):
    vfd = PtyDevice(str(tmp_path / "vfd"))
    try:
        config = make_config(tmp_path, display={"kind": "serial", "port": vfd.link,
                                                "encoding": "utf-8"})
        agent = Agent(config, payments=FakePayments(), book=make_book())
        component = assembly.display_component(agent)
        assert isinstance(component.display, CustomerDisplay)
        assert component.display.encoding == "utf-8"
        agent.add_component("display", component)
        async with Running(agent) as running:
            got = await vfd.read_until("欢迎光临".encode())
            running.checkout.scan_product("SKU-WATER")
            got += await vfd.read_until("矿泉水".encode())
        assert b"\x1c&" not in got  # no GB double-byte mode on a UTF-8 display
        assert "欢迎光临".encode("gb18030") not in got
    finally:
        vfd.close()


async def test_replay_camera_spool_shows_a_dropped_image_and_deletes_it(tmp_path):
    import cv2

    from drivers.testimages import simple_frame

    spool = tmp_path / "camera"
    spool.mkdir()
    config = make_config(tmp_path, camera={"kind": "replay", "replay_path": str(spool),
                                           "replay_spool": True, "replay_fps": 20})
    book = catalog.load_price_book(ROOT / "config" / "pricebook.example.json")
    agent = Agent(config, payments=FakePayments(), book=book)
    component = assembly.scan_component(agent)
    assert isinstance(component, assembly.ScanComponent)
    agent.add_component("scans", component)
    async with Running(agent) as running:
        image = spool / "0001.png"
        tmp = spool / ".0001.png"  # hidden while written, like the demo does
        cv2.imwrite(str(tmp), simple_frame("6921168509256", codes.EAN13).astype("uint8"))
        os.replace(tmp, image)
        await until(lambda: running.checkout.items, limit_s=8)
        assert running.checkout.items[0].product.product_id == "nongfu-water-550"
        assert not image.exists()
        assert [s["text"] for s in running.runtime.last_scans] == ["6921168509256"]
        assert component.health()["camera"]["state"] == "ok"


@pytest.mark.parametrize("encoding", ["gb18030", "gbk", "utf-8"])
def test_display_encoding_is_a_config_field(tmp_path, encoding):
    display = {"kind": "serial", "port": "/dev/ttyUSB1", "encoding": encoding}
    assert make_config(tmp_path, display=display).display.encoding == encoding
