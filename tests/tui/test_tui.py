"""The staff TUI driven with Textual's Pilot against a control API over a real journal."""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.console import Console
from textual.widgets import DataTable

from tests.kiosk_agent.sales import make_order
from tests.tui.conftest import STAFF_PIN
from tui.app import KioskTUI
from tui.modals import PinScreen

REFRESH_S = 0.1  # the app's refresh period, shrunk for the tests
WAIT_S = 5.0


def plain(app: KioskTUI, selector: str) -> str:
    """The text a user sees in one widget of the current screen."""
    widget = app.screen.query_one(selector)
    console = Console(width=100, record=True, file=open("/dev/null", "w"))
    console.print(widget.content)
    return console.export_text()


async def wait_for(pilot, condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def enter_pin(pilot, pin: str = STAFF_PIN) -> None:
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, PinScreen), "the PIN prompt")
    await pilot.press(*pin, "enter")


async def test_agent_not_running_is_a_clear_message(sock_dir):
    app = KioskTUI(str(sock_dir / "nothing.sock"), refresh_s=REFRESH_S)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: "代理未运行" in plain(app, "#statusbar"), "the warning")
        assert "nothing.sock" in plain(app, "#statusbar")
        await pilot.press("2", "3", "l")
        await wait_for(pilot, lambda: "agent not running" in plain(app, "#statusbar"), "english")
        tabs = "1 Dash  2 Orders  3 Queue  4 Devices  5 Config  6 Logs"
        assert tabs in plain(app, "#tabline"), "every screen with its number key"
    assert app.return_code in (None, 0)


async def test_login_then_dashboard_follows_a_sale_and_maintenance(agent_api, journal):
    _server, devices = agent_api
    app = KioskTUI(str(_server.socket_path), refresh_s=REFRESH_S)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: "0 单  ¥0.00" in plain(app, "#dash-summary"), "no sales")
        assert "[已锁定]" in plain(app, "#statusbar")

        await journal.commit_sale(make_order())  # a shopper pays: 3 lines, ¥21.00
        await wait_for(pilot, lambda: "1 单  ¥21.00" in plain(app, "#dash-summary"), "the sale")

        await pilot.press("p")
        await pilot.press(*"9999", "enter")  # wrong PIN: the prompt stays with a message
        await wait_for(pilot, lambda: "PIN 错误" in plain(app, "#error"), "wrong PIN message")
        await pilot.press(*STAFF_PIN, "enter")
        await wait_for(pilot, lambda: "[已解锁]" in plain(app, "#statusbar"), "unlocked")

        await pilot.press("m")
        await wait_for(pilot, lambda: devices.maintenance, "maintenance on")
        await wait_for(pilot, lambda: "维护模式  开" in plain(app, "#dash-summary"), "shown on")

        await pilot.press("l")
        await wait_for(pilot, lambda: "Today's sales  1 orders  ¥21.00" in plain(app, "#dash-summary"),
                       "english labels")
        await pilot.press("p")  # lock again
        await wait_for(pilot, lambda: "[LOCKED]" in plain(app, "#statusbar"), "locked")


async def test_retry_and_discard_dead_letters_from_the_queue_screen(agent_api, journal):
    server, _ = agent_api
    ids = await journal.append_events([("order.completed", {"n": 1}), ("print.failed", {"n": 2})])
    await journal.outbox_reject(ids[0], "schema: missing field total")
    await journal.outbox_reject(ids[1], "unknown store")
    app = KioskTUI(str(server.socket_path), refresh_s=REFRESH_S)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("3")
        table = lambda: app.screen.query_one("#dead-letters", DataTable)  # noqa: E731
        await wait_for(pilot, lambda: table().row_count == 2, "two dead letters")
        assert "schema: missing field total" in plain(app, "#letter-detail")

        await pilot.press("r")  # locked: the PIN comes first, then the retry runs
        await enter_pin(pilot)
        await wait_for(pilot, lambda: table().row_count == 1, "one dead letter left")
        assert [row.event_id for row in await journal.outbox_pending(10)] == [ids[0]]

        await pilot.press("x")
        await pilot.press("enter")  # an empty reason is not accepted
        await pilot.press(*"duplicate", "enter")
        await wait_for(pilot, lambda: table().row_count == 0, "no dead letters")
        assert await journal.dead_letters() == []
        assert "没有死信" in plain(app, "#letter-detail")


async def test_search_an_order_and_reprint_it(agent_api, journal):
    server, _ = agent_api
    first = await journal.commit_sale(make_order())
    second = await journal.commit_sale(make_order(n_lines=1))
    for job in await journal.print_jobs_pending():
        await journal.print_job_done(job.job_id)
    app = KioskTUI(str(server.socket_path), refresh_s=REFRESH_S)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2")
        table = lambda: app.screen.query_one("#orders-table", DataTable)  # noqa: E731
        await wait_for(pilot, lambda: table().row_count == 2, "two orders")
        await pilot.press("slash", *first.order_no, "enter")
        await wait_for(pilot, lambda: table().row_count == 1, "the searched order")
        await wait_for(pilot, lambda: first.order_no in plain(app, "#order-detail"), "its detail")
        assert "商品3" in plain(app, "#order-detail")
        await pilot.press("r")
        await enter_pin(pilot)
        await wait_for(pilot, lambda: bool(app._notifications), "a notification")
        jobs = await journal.print_jobs_pending()
        assert [(job.order_no, job.kind) for job in jobs] == [(first.order_no, "reprint")]
        assert second.order_no != first.order_no


async def test_session_locks_again_after_idle(agent_api):
    server, _ = agent_api
    app = KioskTUI(str(server.socket_path), refresh_s=REFRESH_S, idle_lock_s=0.3)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("p")
        await enter_pin(pilot)
        await wait_for(pilot, lambda: "[已解锁]" in plain(app, "#statusbar"), "unlocked")
        await wait_for(pilot, lambda: "[已锁定]" in plain(app, "#statusbar"), "locked after idle")
        assert not app.client.unlocked


async def test_devices_config_and_logs_screens(agent_api):
    server, _ = agent_api
    app = KioskTUI(str(server.socket_path), refresh_s=REFRESH_S)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("4")
        await wait_for(pilot, lambda: "摄像头" in plain(app, "#device-health")
                       and "正常" in plain(app, "#device-health"), "camera health in words")
        await pilot.press("t")
        await enter_pin(pilot)
        await wait_for(pilot, lambda: "job_id" in plain(app, "#device-result"), "test page job")
        await pilot.press("5")
        config = lambda: app.screen.query_one("#config-table", DataTable)  # noqa: E731
        await wait_for(pilot, lambda: config().row_count > 20, "config rows")
        row = config().get_row("mqtt.host")
        assert row[1] == "127.0.0.1" and str(row[2]) == "default"
        await pilot.press("6")
        log = lambda: app.screen.query_one("#log")  # noqa: E731
        await wait_for(pilot, lambda: any("test page" in str(line) for line in log().lines),
                       "the test page log line")


async def test_against_a_running_agent(sock_dir, staff_pin_hash, tmp_path):
    """The real Agent (checkout, journal, components) with the control API component."""
    import asyncio

    from kiosk_agent.agent import Agent
    from kiosk_agent.config import AgentConfig
    from kiosk_agent.control import control_component

    cfg = AgentConfig()
    cfg.journal.path = tmp_path / "journal.db"
    cfg.mqtt.enabled = False
    cfg.control.socket_path = sock_dir / "agent.sock"
    cfg.control.socket_group = None
    cfg.control.staff_pin_hash = staff_pin_hash
    agent = Agent(cfg)
    control = control_component(agent)
    agent.add_component("control", control)
    task = asyncio.create_task(agent.run())
    try:
        await asyncio.wait_for(control.serving.wait(), 10)
        app = KioskTUI(str(cfg.control.socket_path), refresh_s=REFRESH_S)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: "idle" in plain(app, "#dash-summary"), "checkout idle")
            assert "store1/kiosk1" in plain(app, "#statusbar")
            await agent.journal.commit_sale(make_order(n_lines=2))  # ¥14.00
            await wait_for(pilot, lambda: "1 单  ¥14.00" in plain(app, "#dash-summary"), "sale")
            await pilot.press("m")
            await enter_pin(pilot)
            await wait_for(pilot, lambda: str(agent.checkout.state) == "maintenance", "maint.")
            await wait_for(pilot, lambda: "维护模式  开" in plain(app, "#dash-summary"), "shown")
    finally:
        agent.stop()
        await asyncio.wait_for(task, 15)
