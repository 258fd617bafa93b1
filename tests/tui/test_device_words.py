"""The Devices screen and the dashboard in staff terms (tui.device_words): what a shop
assistant reads for each device fault, in Chinese and English, through the Pilot
against the control API; the store's time zone for times; the staff-call banner."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.tui.test_tui import REFRESH_S, enter_pin, plain, wait_for
from tui.app import KioskTUI
from tui.device_words import ERROR, OFF, OK, WARN, staff_devices
from tui.screens.base import _clock, store_zone
from tui.screens.devices import DevicesScreen

FAULTS = {
    "printer": {"state": "error", "reason": "paper out", "online": True, "paper": "out",
                "cover_open": False, "pending_jobs": 2},
    "camera": {"state": "error", "fps": 0.0, "camera": {
        "state": "error", "reason": "cannot open device: [Errno 2] No such file /dev/video0",
        "fps": 0.0}},
    "display": {"state": "ok", "reason": None},
    "scale": {"state": "error", "reason": "garbage on the line: bad STX"},
    "journal": {"state": "error", "reason": "database or disk is full"},
}


def words(health, status=None, lang="zh"):
    return {r.key: (r.level, *r.words(lang)[1:]) for r in staff_devices(health, status)}


def test_each_fault_in_staff_words():
    zh = words(FAULTS, {"link": {"connected": False}})
    assert zh["printer"][:2] == (ERROR, "缺纸") and "装入新纸卷" in zh["printer"][3]
    assert zh["paper"][:2] == (ERROR, "已用完")
    assert zh["camera"][:2] == (ERROR, "未连接") and "USB" in zh["camera"][3]
    assert zh["display"][:2] == (OK, "正常")
    assert zh["scanner"][:2] == (OFF, "未安装")
    assert zh["scale"][:2] == (ERROR, "通讯错误") and "9600" in zh["scale"][3]
    assert zh["network"][:2] == (ERROR, "离线") and "储值" in zh["network"][2]
    assert zh["storage"][:2] == (ERROR, "存储已满")
    en = words(FAULTS, {"link": {"connected": False}}, "en")
    assert en["printer"][1] == "Out of paper" and "load a new paper roll" in en["printer"][3]
    assert en["camera"][1] == "Unplugged" and en["network"][1] == "Offline"


@pytest.mark.parametrize(("printer", "state"), [
    ({"state": "error", "cover_open": True, "paper": "ok", "online": True}, "纸仓盖打开"),
    ({"state": "error", "online": False, "paper": "unknown", "reason": "printer offline"},
     "未连接"),
    ({"state": "error", "online": True, "paper": "ok", "reason": "cutter jam"}, "故障"),
    ({"state": "ok", "online": True, "paper": "near_end"}, "正常"),
])
def test_printer_states(printer, state):
    got = words({"printer": printer})
    assert got["printer"][1] == state
    if printer.get("paper") == "near_end":
        assert got["paper"][:2] == (WARN, "快用完了")


def test_times_in_the_store_zone_not_the_machine():
    moment = datetime(2026, 12, 4, 16, 30, tzinfo=UTC)  # 00:30 on the 5th in Shanghai
    assert _clock(moment.isoformat(), store_zone("Asia/Shanghai")) == "12-05 00:30"
    assert _clock(moment.timestamp(), store_zone("Asia/Shanghai")) == "00:30:00"
    assert _clock(moment.isoformat(), store_zone("Europe/London")) == "12-04 16:30"
    assert store_zone("Not/AZone") is None


async def test_devices_screen_shows_words_and_actions_in_both_languages(agent_api):
    server, devices = agent_api

    async def faulty_health() -> dict:
        return FAULTS

    devices.health = faulty_health
    app = KioskTUI(str(server.socket_path), refresh_s=REFRESH_S)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("4")
        await wait_for(pilot, lambda: isinstance(app.screen, DevicesScreen), "devices")
        await wait_for(pilot, lambda: "缺纸" in plain(app, "#device-health"), "out of paper")
        text = plain(app, "#device-health")
        assert "装入新纸卷" in text and "未连接" in text and "通讯错误" in text
        assert "state=" not in text and "queue_depth" not in text  # no raw dump
        assert "/dev/video0" in text  # the technical reason stays, for support
        await pilot.press("l")
        await wait_for(pilot, lambda: "Out of paper" in plain(app, "#device-health"), "English")
        assert "Unplugged" in plain(app, "#device-health")


async def test_dashboard_staff_call_banner_in_store_time_and_refused_answer(agent_api):
    server, devices = agent_api
    call = {"active": True, "call_id": "c1", "reason": "help",
            "called_at": "2026-12-04T16:30:00+00:00"}
    base_status = devices.status

    async def status() -> dict:
        return {**await base_status(), "timezone": "Asia/Shanghai", "staff_call": call}

    devices.status = status
    app = KioskTUI(str(server.socket_path), refresh_s=REFRESH_S)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: "顾客呼叫店员" in plain(app, "#dash-summary"), "banner")
        assert "12-05 00:30" in plain(app, "#dash-summary")  # the store's time
        await pilot.press("a")
        await enter_pin(pilot)
        # This fake agent has no staff-call route: the TUI says so, the banner stays.
        await wait_for(pilot, lambda: any("代理不支持此功能" in str(n.message)
                                          for n in app._notifications), "not supported")
        assert "顾客呼叫店员" in plain(app, "#dash-summary")


async def test_staff_answer_the_call_from_the_dashboard(running_agent):
    from kiosk_agent.staff_calls import staff_calls

    agent = running_agent
    await staff_calls(agent).call()
    app = KioskTUI(str(agent.config.control.socket_path), refresh_s=REFRESH_S)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: "顾客呼叫店员" in plain(app, "#dash-summary"), "banner")
        await pilot.press("a")
        await enter_pin(pilot)
        await wait_for(pilot, lambda: not staff_calls(agent).active, "the call answered")
        assert staff_calls(agent).current.answered_by == "kiosk-tui"
        await wait_for(pilot, lambda: "顾客呼叫店员" not in plain(app, "#dash-summary"),
                       "the banner gone")
