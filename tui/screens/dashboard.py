"""The dashboard: link, queue, printer, camera, today's sales, maintenance, last scans."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from contract.money import format_minor

from ..i18n import t
from .base import DASH, KioskScreen, _age, _clock, _optional, bilingual


class DashboardScreen(KioskScreen):
    title_key = "dashboard"
    BINDINGS = bilingual("m", "toggle_maintenance", "toggle_maintenance")

    def compose_body(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(id="dash-summary")
            yield Static(id="dash-scans")

    def __init__(self) -> None:
        super().__init__()
        self.status: dict = {}
        self.health: dict = {}
        self.outbox: dict = {}
        self.sales: dict | None = None

    async def refresh_data(self) -> None:
        client = self.kiosk.client
        self.status = await _optional(client.status()) or {}
        self.health = await _optional(client.health()) or {}
        self.outbox = await _optional(client.outbox()) or {}
        self.sales = await _optional(client.sales_today())
        self.render_data()

    def relabel(self) -> None:
        super().relabel()
        if hasattr(self, "status"):
            self.render_data()

    def sales_text(self) -> str:
        if not self.sales:
            return DASH
        total = self.sales.get("total", 0)
        currency = self.sales.get("currency", "CNY")
        return f"{self.sales.get('orders', 0)} {t('orders_n', self.lang)}  {format_minor(int(total), currency)}"

    def render_data(self) -> None:
        lang = self.lang
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column()
        found = self.status.get("link")
        link: dict[str, Any] = found if isinstance(found, dict) else {}
        connected = link.get("connected")
        link_text = Text(DASH) if connected is None else (
            Text(t("online", lang), style="green") if connected
            else Text(t("offline", lang), style="bold red")
        )
        if link.get("since"):
            link_text.append(f"  ({_clock(link['since'])})")
        grid.add_row(t("link", lang), link_text)
        stats = self.outbox.get("stats") or {}
        grid.add_row(
            t("queue_depth", lang),
            f"{stats.get('depth', DASH)}   {t('oldest_unsent', lang)}: "
            f"{_age(stats.get('oldest_age_s'), lang)}   {t('dead_letters', lang)}: "
            f"{stats.get('dead_letters', DASH)}",
        )
        printer = self.health.get("printer") or {}
        grid.add_row(
            t("printer", lang),
            f"{printer.get('state', DASH)}   {t('paper', lang)}: {printer.get('paper', DASH)}"
            + (f"   {printer['detail']}" if printer.get("detail") else ""),
        )
        camera = self.health.get("camera") or {}
        fps = camera.get("fps")
        decode_ms = camera.get("decode_ms", camera.get("decode_latency_ms"))
        grid.add_row(
            t("camera", lang),
            f"{camera.get('state', DASH)}   {fps if fps is not None else DASH} fps   "
            f"{t('decode', lang)}: {decode_ms if decode_ms is not None else DASH} ms",
        )
        for device in ("display", "scanner", "journal"):
            if device in self.health:
                grid.add_row(t(device, lang), str(self.health[device].get("state", DASH)))
        grid.add_row(t("sales_today", lang), self.sales_text())
        maintenance = self.status.get("maintenance")
        grid.add_row(
            t("maintenance", lang),
            DASH if maintenance is None else (
                Text(t("on", lang), style="bold yellow") if maintenance else Text(t("off", lang))
            ),
        )
        grid.add_row(t("state", lang), str(self.status.get("state", DASH)))
        self.query_one("#dash-summary", Static).update(grid)
        scans = self.status.get("last_scans") or []
        lines = [Text(t("last_scans", lang), style="bold underline")]
        for scan in scans[-6:]:
            if isinstance(scan, dict):
                lines.append(Text(
                    f"{_clock(scan.get('at') or scan.get('seen_at'))}  {scan.get('kind', '')}  "
                    f"{scan.get('text', '')}  {scan.get('name', '')}"
                ))
            else:
                lines.append(Text(str(scan)))
        if not scans:
            lines.append(Text(DASH))
        self.query_one("#dash-scans", Static).update(Group(*lines))

    def action_toggle_maintenance(self) -> None:
        turn_on = not bool(self.status.get("maintenance"))

        async def act() -> str:
            await self.kiosk.client.set_maintenance(turn_on, "staff via kiosk-tui")
            return t("maintenance_on" if turn_on else "maintenance_off", self.lang)

        self.kiosk.guarded(act)
