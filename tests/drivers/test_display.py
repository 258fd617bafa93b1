"""Customer display on a pseudo-terminal pair: the exact bytes, alternation, unplug."""

from __future__ import annotations

import asyncio

from drivers.display import (
    CLEAR,
    LINE2,
    CustomerDisplay,
    NoDisplay,
    build_display,
    screen_bytes,
)
from drivers.receipt.text import text_width
from kiosk_agent.config import DisplaySection

from .conftest import PtyDevice

FAST = dict(alternate_s=0.1, reopen_s=0.05)


def test_screen_bytes_exact():
    data = screen_bytes(("请出示付款码", "应付 ￥28.71"))
    assert data == (
        CLEAR + "请出示付款码        ".encode("gb18030") + LINE2
        + "应付 ￥28.71        ".encode("gb18030")
    )
    # every line is exactly 20 columns, Chinese characters counting two
    assert text_width("请出示付款码        ") == 20


async def test_item_payment_and_thanks_bytes(vfd):
    async with CustomerDisplay(vfd.link, languages=["zh"], **FAST) as display:
        got = await vfd.read_until(b"\x1b@\x1c&")
        assert got.startswith(b"\x1b@\x1c&")
        await display.show_item("可口可乐 330ml", "Coca-Cola", 350, 700, qty=1)
        got = await vfd.read_until(b"\xa3\xa47.00")
        # 20 columns: the name is cut to leave room for the price ("￥" takes two)
        assert got == (CLEAR + "可口可乐 330m ￥3.50".encode("gb18030") + LINE2
                       + "合计          ￥7.00".encode("gb18030"))
        await display.show_payment_prompt(2871)
        got = await vfd.read_until(b"28.71")
        assert "请出示付款码".encode("gb18030") in got
        await display.show_result(True, 2871)
        assert "支付成功".encode("gb18030") in await vfd.read_until(b"28.71")
        await display.show_thanks()
        assert "欢迎再次光临".encode("gb18030") in await vfd.read_until("临".encode("gb18030"))
        assert display.health()["state"] == "ok"


async def test_both_languages_alternate(vfd):
    async with CustomerDisplay(vfd.link, languages=["zh", "en"], **FAST) as display:
        await vfd.read_until(b"\x1b@\x1c&")
        await display.show_payment_prompt(2871)
        got = await vfd.read_until("请出示付款码".encode("gb18030"))
        got += await vfd.read_until(b"Show payment code")
        assert got.index("请出示付款码".encode("gb18030")) < got.index(b"Show payment code")
        # and back to Chinese on the next turn
        await vfd.read_until("请出示付款码".encode("gb18030"))


async def test_missing_display_then_plugged_in(tmp_path):
    link = str(tmp_path / "vfd")
    display = CustomerDisplay(link, languages=["en"], **FAST)
    async with display:
        assert display.health()["state"] == "error"
        assert "cannot open" in display.health()["reason"]
        await display.show_welcome()  # accepted, shown when the display comes back
        dev = PtyDevice(link)
        try:
            got = await dev.read_until(b"Scan your items")
            assert got.startswith(b"\x1b@\x1c&")
            assert display.health()["state"] == "ok"
        finally:
            dev.close()


async def test_unplugged_display_recovers(vfd):
    async with CustomerDisplay(vfd.link, languages=["en"], **FAST) as display:
        await vfd.read_until(b"\x1b@")
        vfd.unplug()
        await display.show_total(2871, 4)
        assert display.health()["state"] == "error"
        vfd.plug()
        got = await vfd.read_until(b"4 items")
        assert b"Total" in got and "￥28.71".encode("gb18030") in got
        assert display.health()["state"] == "ok"


async def test_no_display_configured():
    display = build_display(DisplaySection(kind="none"))
    assert isinstance(display, NoDisplay)
    async with display:
        await display.show_item("x", None, 1, 1)
    assert display.health()["state"] == "off"
    assert isinstance(build_display(DisplaySection(kind="serial", port="/dev/null")), CustomerDisplay)


async def test_free_text_does_not_alternate(vfd):
    async with CustomerDisplay(vfd.link, languages=["zh", "en"], **FAST) as display:
        await vfd.read_until(b"\x1b@\x1c&")
        await display.show_text("设备维护中", "Out of service")
        await vfd.read_until(b"Out of service")
        shown = display.health()["screens_shown"]
        await asyncio.sleep(0.35)  # three alternation periods
        assert display.health()["screens_shown"] == shown


async def test_qr_prompt_in_both_languages(vfd):
    """扫码支付: the QR is on the printed slip; the display points at it with the amount."""
    async with CustomerDisplay(vfd.link, languages=["zh", "en"], **FAST) as display:
        await vfd.read_until(b"\x1b@\x1c&")
        await display.show_qr_prompt(1290)
        got = await vfd.read_until("请用微信扫描二维码".encode("gb18030"))
        got += await vfd.read_until(b"Scan QR with WeChat")
        assert b"12.90" in got
