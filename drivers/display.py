"""Customer display: a 2x20 VFD pole display on a serial port, ESC/POS display commands.

What the shopper sees: the item and its price on each scan with the running total,
the total, 请出示付款码 / Show payment code, the payment result, thank you. With both
languages configured the display alternates between the Chinese and the English
screen every ``alternate_s`` (20 columns are 10 Chinese characters: there is no room
for both at once).

Bytes (Epson DM-D / CD5220-compatible, what Chinese VFDs such as the LD220/PD220
family accept in their ESC/POS mode): ``ESC @`` initialise; ``FS &`` Chinese
(double-byte GB2312/GB18030) mode; per screen ``FF`` (0x0C, clear and home), line 1,
``US $ 1 2`` (cursor to column 1, row 2), line 2. Each line is padded to exactly 20
columns; a Chinese character takes two.

Faults: a port that is missing or goes away puts the display in ``error`` (logged
once); it is reopened every ``reopen_s`` and the current screen is shown again. The
agent never waits on the display: writes go through a thread with a short timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

from drivers.config import DisplaySection, NoDisplayConfig
from drivers.receipt.text import amount_text, clean_text, fit, text_width
from drivers.state import ERROR, OK, DeviceState

log = logging.getLogger(__name__)

COLUMNS = 20
INIT = b"\x1b@"
CHINESE_MODE = b"\x1c&"
CLEAR = b"\x0c"
LINE2 = b"\x1f\x24\x01\x02"  # US $ x y: column 1, row 2

# Long enough to read a 10-character line, short enough that the English screen
# comes round while the shopper still looks at the display.
ALTERNATE_S = 3.0
# A replugged USB-serial display is back within a second or two; checking every 2 s
# costs nothing.
REOPEN_S = 2.0
# 40 characters at 9600 baud take ~50 ms; a write stuck longer means a dead port.
WRITE_TIMEOUT_S = 1.0

Screen = tuple[str, str]


def _money(fen: int) -> str:
    return "￥" + amount_text(fen)


def item_screens(name_zh: str, name_en: str | None, price: int, total: int, qty: int = 1
                 ) -> dict[str, Screen]:
    """Item scanned: name and price on line 1, the running total on line 2."""
    price_text = _money(price) if qty == 1 else f"{qty}x{amount_text(price)}"
    return {
        "zh": (_left_right(name_zh, price_text), _left_right("合计", _money(total))),
        "en": (_left_right(name_en or name_zh, price_text), _left_right("Total", _money(total))),
    }


def total_screens(total: int, count: int) -> dict[str, Screen]:
    """Cart total with the number of items."""
    return {
        "zh": (_left_right(f"共{count}件", ""), _left_right("合计", _money(total))),
        "en": (_left_right(f"{count} items", ""), _left_right("Total", _money(total))),
    }


def payment_screens(total: int) -> dict[str, Screen]:
    """Ask for the WeChat / Alipay payment code."""
    return {
        "zh": ("请出示付款码", _left_right("应付", _money(total))),
        "en": ("Show payment code", _left_right("To pay", _money(total))),
    }


def qr_screens(total: int) -> dict[str, Screen]:
    """扫码支付: scan the WeChat Pay QR printed on the slip."""
    return {
        "zh": ("请用微信扫描二维码", _left_right("应付", _money(total))),
        "en": ("Scan QR with WeChat", _left_right("To pay", _money(total))),
    }


def result_screens(paid: bool, total: int | None = None, reason_zh: str = "", reason_en: str = ""
                   ) -> dict[str, Screen]:
    """Payment result: paid (with the amount) or failed (with a short reason)."""
    if paid:
        amount = _money(total) if total is not None else ""
        return {"zh": ("支付成功", _left_right("实付", amount)),
                "en": ("Payment successful", _left_right("Paid", amount))}
    return {"zh": ("支付失败", reason_zh or "请重试"), "en": ("Payment failed", reason_en or "Please try again")}


def thanks_screens() -> dict[str, Screen]:
    """After the receipt: thank you."""
    return {"zh": ("谢谢惠顾", "欢迎再次光临"), "en": ("Thank you", "Please come again")}


def welcome_screens() -> dict[str, Screen]:
    """Idle: invite the next shopper."""
    return {"zh": ("欢迎光临", "请扫描商品条码"), "en": ("Welcome", "Scan your items")}


def _left_right(left: str, right: str, width: int = COLUMNS, encoding: str = "gb18030") -> str:
    rw = text_width(right, encoding)
    room = max(width - rw - (1 if right else 0), 0)
    return fit(left, room, encoding=encoding) + (" " + right if right else "")


def screen_bytes(screen: Screen, encoding: str = "gb18030") -> bytes:
    """The bytes that put ``screen`` on the display (clear, line 1, row 2, line 2)."""
    lines = [fit(clean_text(text, encoding), COLUMNS, encoding=encoding) for text in screen]
    errors = "replace"
    return CLEAR + lines[0].encode(encoding, errors) + LINE2 + lines[1].encode(encoding, errors)


class CustomerDisplay:
    """A 2x20 VFD pole display on a serial port; an async context manager.

    Args:
        port: serial device (e.g. ``/dev/ttyUSB0`` or the udev symlink).
        baudrate: the display's DIP-switch speed (9600 is the common default).
        encoding: ``gb18030`` (default), ``gbk`` or ``gb2312`` per display model.
        languages: ``["zh"]``, ``["en"]`` or both (alternating screens).
        chinese_mode: send ``FS &`` after ``ESC @`` (Chinese VFDs need it).
    """

    def __init__(
        self,
        port: str,
        baudrate: int = 9600,
        *,
        encoding: str = "gb18030",
        languages: Sequence[str] = ("zh", "en"),
        chinese_mode: bool = True,
        alternate_s: float = ALTERNATE_S,
        reopen_s: float = REOPEN_S,
    ) -> None:
        self.port = port
        self.baudrate = baudrate
        self.encoding = encoding
        self.languages = [lang for lang in ("zh", "en") if lang in languages] or ["zh"]
        self.chinese_mode = chinese_mode
        self.alternate_s = alternate_s
        self.reopen_s = reopen_s
        self._serial: Any = None
        self._screens: list[Screen] = []
        self._index = 0
        self._lock = asyncio.Lock()
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.device_state = DeviceState(f"customer display {port}", log)
        self.screens_shown = 0

    # -- lifecycle -----------------------------------------------------------------
    async def __aenter__(self) -> CustomerDisplay:
        async with self._lock:
            await self._ensure_open()
        self._task = asyncio.create_task(self._run(), name="customer-display")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        async with self._lock:
            await asyncio.to_thread(self._close_sync)

    # -- what the shopper sees -----------------------------------------------------
    async def show(self, screens: dict[str, Screen]) -> None:
        """Show a message (one screen per language, alternating when there are two)."""
        async with self._lock:
            chosen = [screens[lang] for lang in self.languages if lang in screens]
            # Same text in both languages (free text): one screen, nothing to alternate.
            self._screens = list(dict.fromkeys(chosen))
            self._index = 0
            await self._write_current()
        self._changed.set()  # restart the alternation timer

    async def show_item(self, name_zh: str, name_en: str | None, price: int, total: int,
                        qty: int = 1) -> None:
        """An item was scanned: its name and price, and the running total."""
        await self.show(item_screens(name_zh, name_en, price, total, qty))

    async def show_total(self, total: int, count: int) -> None:
        await self.show(total_screens(total, count))

    async def show_payment_prompt(self, total: int) -> None:
        """请出示付款码 / Show payment code, with the amount due."""
        await self.show(payment_screens(total))

    async def show_qr_prompt(self, total: int) -> None:
        """请用微信扫描二维码 / Scan QR with WeChat, with the amount due (the QR is printed)."""
        await self.show(qr_screens(total))

    async def show_result(self, paid: bool, total: int | None = None, reason_zh: str = "",
                          reason_en: str = "") -> None:
        await self.show(result_screens(paid, total, reason_zh, reason_en))

    async def show_thanks(self) -> None:
        await self.show(thanks_screens())

    async def show_welcome(self) -> None:
        await self.show(welcome_screens())

    async def show_text(self, line1: str, line2: str = "") -> None:
        """Free text in every language (staff tests, maintenance notices)."""
        await self.show({lang: (line1, line2) for lang in ("zh", "en")})

    def health(self) -> dict[str, Any]:
        """``{"state": "ok"|"error", "reason": ..., "port": ...}``."""
        state, reason = self.device_state.snapshot()
        return {"state": state, "reason": reason, "port": self.port,
                "screens_shown": self.screens_shown}

    # -- internals -----------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            timeout = self.alternate_s if self._serial is not None else self.reopen_s
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow the
            # cancellation that stops this task when it races the timeout.
            try:
                async with asyncio.timeout(timeout):
                    await self._changed.wait()
                self._changed.clear()
                continue
            except TimeoutError:
                pass
            async with self._lock:
                if self._serial is None:
                    await self._ensure_open()
                elif len(self._screens) > 1:
                    self._index = (self._index + 1) % len(self._screens)
                    await self._write_current()

    async def _ensure_open(self) -> bool:
        if self._serial is not None:
            return True
        try:
            self._serial = await asyncio.to_thread(self._open_sync)
        except Exception as err:
            self.device_state.set(ERROR, f"cannot open {self.port}: {_one_line(err)}")
            return False
        self.device_state.set(OK, None)
        if self._screens:
            await self._write_current()
        return self._serial is not None

    def _open_sync(self) -> Any:
        import serial

        port = serial.Serial(self.port, self.baudrate, timeout=0, write_timeout=WRITE_TIMEOUT_S)
        try:
            port.write(INIT + (CHINESE_MODE if self.chinese_mode else b""))
            port.flush()
        except Exception:
            port.close()
            raise
        return port

    def _close_sync(self) -> None:
        port, self._serial = self._serial, None
        if port is not None:
            with contextlib.suppress(Exception):
                port.close()

    async def _write_current(self) -> None:
        if not self._screens:
            return
        if self._serial is None and not await self._ensure_open():
            return  # shown when the display comes back
        data = screen_bytes(self._screens[self._index], self.encoding)
        port = self._serial
        try:
            await asyncio.to_thread(_write_flush, port, data)
        except Exception as err:
            await asyncio.to_thread(self._close_sync)
            self.device_state.set(ERROR, f"write to {self.port} failed: {_one_line(err)}")
            return
        self.screens_shown += 1


class NoDisplay:
    """``display.kind = "none"``: every call is accepted and does nothing."""

    async def __aenter__(self) -> NoDisplay:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("show"):
            async def noop(*args: object, **kwargs: object) -> None:
                return None

            return noop
        raise AttributeError(name)

    def health(self) -> dict[str, Any]:
        return {"state": "off", "reason": "no display configured"}


def build_display(cfg: DisplaySection,
                  languages: Sequence[str] = ("zh", "en")) -> CustomerDisplay | NoDisplay:
    """The display the config's ``[display]`` section asks for."""
    if isinstance(cfg, NoDisplayConfig):
        return NoDisplay()
    encoding = cfg.encoding
    # Chinese (double-byte) mode is for GB18030/GBK; a UTF-8 display must not get FS &.
    return CustomerDisplay(cfg.port, cfg.baudrate, encoding=encoding, languages=languages,
                           chinese_mode=encoding != "utf-8")


def _write_flush(port: Any, data: bytes) -> None:
    port.write(data)
    port.flush()


def _one_line(err: BaseException) -> str:
    return (" ".join(str(err).split()) or type(err).__name__)[:200]
