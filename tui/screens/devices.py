"""Devices in staff terms (state, reason, what to do), printer test page, display test,
camera snapshot and decode check."""

from __future__ import annotations

import io
import json
import time
from typing import ClassVar, cast

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from common.jsontypes import JsonObject

from ..device_words import ERROR, WARN, staff_devices
from ..i18n import t
from .base import KioskScreen, _optional, bilingual

#: colour of a device row's state, by level (tui.device_words)
LEVEL_STYLE = {"ok": "green", "off": "dim", "warn": "bold yellow", "error": "bold red"}


def half_block_image(data: bytes, width: int = 60) -> Text | None:
    """A small preview of an image as coloured half blocks (two pixels per cell)."""
    try:
        from PIL import Image
    except ImportError:
        return None
    try:
        image = Image.open(io.BytesIO(data)).convert("RGB")
    except Exception:
        return None
    width = max(1, min(width, image.width))
    height = max(2, int(image.height * width / image.width / 2) * 2)
    image = image.resize((width, height))
    pixels = image.convert("RGB").load()
    assert pixels is not None
    text = Text()
    for y in range(0, height, 2):
        for x in range(width):
            top, bottom = cast(tuple[int, ...], pixels[x, y]), cast(tuple[int, ...], pixels[x, y + 1])
            text.append("▀", style=f"rgb({top[0]},{top[1]},{top[2]}) on rgb({bottom[0]},{bottom[1]},{bottom[2]})")
        text.append("\n")
    return text


class DevicesScreen(KioskScreen):
    title_key = "devices"
    BINDINGS: ClassVar[list[BindingType]] = [
        *bilingual("t", "test_page", "test_page"),
        *bilingual("d", "display_test", "display_test"),
        *bilingual("s", "snapshot", "snapshot"),
        *bilingual("c", "decode_check", "decode_check"),
    ]

    def compose_body(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(id="device-health")
            yield Static(id="device-result")
            yield Static(id="snapshot")

    def __init__(self) -> None:
        super().__init__()
        self.health: JsonObject = {}
        self.status: JsonObject = {}

    async def refresh_data(self) -> None:
        self.health = await _optional(self.kiosk.client.health()) or {}
        self.status = await _optional(self.kiosk.client.status()) or {}
        self._fill()

    def relabel(self) -> None:
        super().relabel()
        if hasattr(self, "health"):
            self._fill()

    def _fill(self) -> None:
        """Each device in staff terms (tui.device_words): state, reason, what to do."""
        lang = self.lang
        table = Table(expand=True, show_edge=False, pad_edge=False)
        for key in ("device", "device_state", "reason", "what_to_do"):
            table.add_column(t(key, lang), no_wrap=key in ("device", "device_state"))
        details = []
        for row in staff_devices(self.health, self.status):
            name, state, reason, action = row.words(lang)
            table.add_row(Text(name, style="bold"), Text(state, style=LEVEL_STYLE[row.level]),
                          reason, action)
            if row.detail and row.level in (ERROR, WARN):
                details.append(Text(f"{name}: {row.detail}", style="dim"))
        notes = [Text(t("for_support", lang), style="dim underline"), *details] if details else []
        self.query_one("#device-health", Static).update(Group(table, *notes))

    def _show_result(self, title: str, value: object) -> None:
        body = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=1)
        self.query_one("#device-result", Static).update(Group(Text(title, style="bold"), Text(body[:2000])))

    def action_test_page(self) -> None:
        async def act() -> str:
            result = await self.kiosk.client.print_test_page()
            self._show_result(t("test_page", self.lang), result)
            return t("test_page_sent", self.lang)

        self.kiosk.guarded(act)

    def action_display_test(self) -> None:
        async def act() -> str:
            result = await self.kiosk.client.display_test()
            self._show_result(t("display_test", self.lang), result)
            return t("display_test_sent", self.lang)

        self.kiosk.guarded(act)

    def action_decode_check(self) -> None:
        async def act() -> str:
            result = await self.kiosk.client.decode_check()
            self._show_result(t("decode_check", self.lang), result)
            return t("decode_check", self.lang)

        self.kiosk.guarded(act)

    def action_snapshot(self) -> None:
        async def act() -> str:
            content_type, image = await self.kiosk.client.snapshot()
            self._show_snapshot(content_type, image)
            return t("snapshot", self.lang)

        self.kiosk.guarded(act)

    def _show_snapshot(self, content_type: str, image: bytes) -> None:
        preview = half_block_image(image, width=min(60, self.size.width - 2))
        meta = Text(f"{t('snapshot', self.lang)}: {content_type}, {len(image)} bytes, "
                    f"{time.strftime('%H:%M:%S')}", style="bold")
        self.query_one("#snapshot", Static).update(Group(meta, preview) if preview else meta)
