"""The staff TUI driven with Textual's Pilot against a REAL running Agent on fakes.

The agent is built like ``kiosk-agent run`` builds it (``build_agent``: control API,
systemd notify, printer spooler, ...) with the demo price book, a file printer and
FakePayments (fixture ``running_agent`` in conftest). Sales go through
``agent.handle_scan`` with real catalog barcodes and a WeChat payment code.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from types import SimpleNamespace

from textual.widgets import DataTable

from contract.wire.events import PRINT_DONE
from tests.tui.test_tui import REFRESH_S, enter_pin, plain
from tui.app import KioskTUI

WAIT_S = 8.0
WATER = "6921168509256"  # 农夫山泉 550ml ¥2.00
COKE = "6902335000127"  # 可口可乐 330ml ¥2.50
WECHAT = "134567890123456789"  # 18 digits, prefix 13: a WeChat payment code


async def wait_for(pilot, condition: Callable[[], object], what: str) -> None:
    """Poll a sync or async condition (bounded) while the app keeps running."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        value = condition()
        if hasattr(value, "__await__"):
            value = await value
        if value:
            return
        await pilot.pause(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def scan(kind: str, text: str) -> SimpleNamespace:
    return SimpleNamespace(kind=kind, text=text, symbology="")


async def sell(agent) -> str:
    """A shopper buys water + coke (¥4.50) and pays by WeChat; returns the order number."""
    for barcode in (WATER, COKE):
        assert await agent.handle_scan(scan("product", barcode)) is None
    assert await agent.handle_scan(scan("wechat", WECHAT)) is None
    assert agent.payments.calls, "the payment gateway was charged"
    return agent.payments.calls[-1][0]


async def print_done_kinds(journal) -> list[tuple[str, str]]:
    rows = await journal.outbox_pending(1000)
    data = [json.loads(r.payload)["data"] for r in rows if r.type == PRINT_DONE]
    return [(d["order_no"], d["kind"]) for d in data]


async def test_login_and_the_dashboard_follows_a_sale(running_agent):
    agent = running_agent
    app = KioskTUI(str(agent.config.control.socket_path), refresh_s=REFRESH_S)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: "0 单  ¥0.00" in plain(app, "#dash-summary"), "no sales")
        assert "store1/kiosk1" in plain(app, "#statusbar")
        assert "[已锁定]" in plain(app, "#statusbar")
        await pilot.press("p")
        await enter_pin(pilot)
        await wait_for(pilot, lambda: "[已解锁]" in plain(app, "#statusbar"), "unlocked")

        order_no = await sell(agent)
        await wait_for(pilot, lambda: "1 单  ¥4.50" in plain(app, "#dash-summary"), "the sale")
        assert str(agent.checkout.state) == "completed"  # paid, receipt printed
        await wait_for(pilot, lambda: print_done_kinds(agent.journal), "the receipt printed")
        assert await print_done_kinds(agent.journal) == [(order_no, "receipt")]


async def test_retry_a_dead_letter_from_the_queue_screen(running_agent):
    agent = running_agent
    journal = agent.journal
    [event_id] = await journal.append_events([("order.completed", {"n": 1})])
    assert await journal.outbox_reject(event_id, "schema: missing field total")
    assert event_id not in [r.event_id for r in await journal.outbox_pending(1000)]
    app = KioskTUI(str(agent.config.control.socket_path), refresh_s=REFRESH_S)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("3")
        table = lambda: app.screen.query_one("#dead-letters", DataTable)  # noqa: E731
        await wait_for(pilot, lambda: table().row_count == 1, "the dead letter")
        assert "schema: missing field total" in plain(app, "#letter-detail")
        await pilot.press("r")  # locked: the PIN first, then the retry runs
        await enter_pin(pilot)
        await wait_for(pilot, lambda: table().row_count == 0, "no dead letters")
        assert await journal.dead_letters() == []
        assert event_id in [r.event_id for r in await journal.outbox_pending(1000)]
        assert "没有死信" in plain(app, "#letter-detail")


async def test_reprint_an_order_from_the_orders_screen(running_agent, tmp_path):
    agent = running_agent
    receipts = tmp_path / "receipts.bin"
    order_no = await sell(agent)
    reprint_mark = "重印".encode("gb18030")
    app = KioskTUI(str(agent.config.control.socket_path), refresh_s=REFRESH_S)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: receipts.exists() and receipts.stat().st_size > 0,
                       "the receipt printed")
        assert reprint_mark not in receipts.read_bytes()
        await pilot.press("2")
        table = lambda: app.screen.query_one("#orders-table", DataTable)  # noqa: E731
        await wait_for(pilot, lambda: table().row_count == 1, "the order")
        await wait_for(pilot, lambda: order_no in plain(app, "#order-detail"), "its detail")
        assert "农夫山泉" in plain(app, "#order-detail")
        await pilot.press("r")
        await enter_pin(pilot)
        await wait_for(pilot, lambda: reprint_mark in receipts.read_bytes(), "the reprint")
        await wait_for(pilot, lambda: _has_reprint_done(agent.journal, order_no),
                       "the reprint job done")
        assert await agent.journal.print_jobs_pending() == []
        assert await print_done_kinds(agent.journal) == [(order_no, "receipt"),
                                                         (order_no, "reprint")]
    printed = receipts.read_bytes()
    assert printed.count(b"\x1dVB\x00") == 2  # two paper cuts: the receipt, the reprint
    assert reprint_mark not in printed.split(b"\x1dVB\x00")[0]  # only the second is 重印


async def _has_reprint_done(journal, order_no: str) -> bool:
    return (order_no, "reprint") in await print_done_kinds(journal)
