"""Each TUI screen's actions through the Pilot, against a REAL running agent on fakes.

The agent (fixture ``running_agent``) has a file printer, no camera and no display, so
the Devices screen can print a real test page and must say plainly what the kiosk
lacks; maintenance, the language switch and the log filter change what the agent and
the screen really show.
"""

from __future__ import annotations

import logging

from textual.widgets import DataTable, RichLog

from kiosk_agent.checkout import State
from tests.tui.test_tui import REFRESH_S, enter_pin, plain
from tests.tui.test_tui_agent import wait_for
from tui.app import KioskTUI
from tui.screens.config import ConfigScreen
from tui.screens.devices import DevicesScreen
from tui.screens.logs import LogsScreen

TEST_PAGE = "打印测试".encode("gb18030")


def notifications(app: KioskTUI) -> list[str]:
    return [str(n.message) for n in app._notifications]


def log_text(app: KioskTUI) -> str:
    widget = app.screen.query_one("#log", RichLog)
    return "\n".join("".join(seg.text for seg in line) for line in widget.lines)


async def test_devices_screen_prints_a_test_page_and_names_missing_devices(running_agent,
                                                                         tmp_path):
    receipts = tmp_path / "receipts.bin"
    app = KioskTUI(str(running_agent.config.control.socket_path), refresh_s=REFRESH_S)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("4")
        await wait_for(pilot, lambda: isinstance(app.screen, DevicesScreen), "the devices")
        await pilot.press("t")
        await enter_pin(pilot)
        await wait_for(pilot, lambda: receipts.exists() and TEST_PAGE in receipts.read_bytes(),
                       "the test page on the printer")
        await pilot.press("d")  # no display on this kiosk: said so, nothing crashes
        await wait_for(pilot, lambda: any("代理不支持此功能" in m and "display" in m
                                          for m in notifications(app)), "no display")
        await pilot.press("c")  # no camera: the decode check says so too
        await wait_for(pilot, lambda: any("代理不支持此功能" in m and "camera" in m
                                          for m in notifications(app)), "no camera")
        assert isinstance(app.screen, DevicesScreen)


async def test_maintenance_toggle_changes_the_agent_and_back(running_agent):
    agent = running_agent
    app = KioskTUI(str(agent.config.control.socket_path), refresh_s=REFRESH_S)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: agent.checkout is not None, "the checkout")
        await pilot.press("m")
        await enter_pin(pilot)
        await wait_for(pilot, lambda: agent.checkout.state == State.MAINTENANCE,
                       "maintenance on in the agent")
        await wait_for(pilot, lambda: any("维护模式已开启" in m for m in notifications(app)),
                       "the confirmation")
        await pilot.press("m")
        await wait_for(pilot, lambda: agent.checkout.state == State.IDLE, "maintenance off")


def config_rows(app: KioskTUI) -> list[str]:
    table = app.screen.query_one("#config-table", DataTable)
    return [" ".join(str(c) for c in table.get_row_at(i)) for i in range(table.row_count)]


async def test_language_switch_relabels_the_screens_and_config_shows_the_agent(running_agent):
    app = KioskTUI(str(running_agent.config.control.socket_path), refresh_s=REFRESH_S)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: "看板" in plain(app, "#statusbar"), "Chinese labels")
        await pilot.press("l")
        await wait_for(pilot, lambda: "Dash" in plain(app, "#statusbar")
                       and "看板" not in plain(app, "#statusbar"), "English labels")
        await pilot.press("5")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfigScreen), "the config")
        store = running_agent.config.kiosk.store_id
        await wait_for(pilot, lambda: any(store in row for row in config_rows(app)),
                       "the agent's effective config")


async def test_logs_screen_shows_the_agents_lines_and_filters_warnings(running_agent):
    logger = logging.getLogger("kiosk_agent.tui_test")
    logger.setLevel(logging.INFO)  # the agent's own loggers run at its configured INFO
    app = KioskTUI(str(running_agent.config.control.socket_path), refresh_s=REFRESH_S)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("6")
        await wait_for(pilot, lambda: isinstance(app.screen, LogsScreen), "the logs")
        logger.warning("printer paper low tui-marker-1")
        logger.info("routine line tui-marker-2")
        await wait_for(pilot, lambda: "tui-marker-1" in log_text(app)
                       and "tui-marker-2" in log_text(app), "both lines")
        await pilot.press("w")
        await wait_for(pilot, lambda: "tui-marker-1" in log_text(app)
                       and "tui-marker-2" not in log_text(app), "warnings only")
