"""The dashboard: a shopper's staff call, link, queue, devices in staff terms, today's sales,
maintenance, last scans (times in the store's time zone)."""

from __future__ import annotations

from typing import ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from common.jsontypes import JsonMapping, JsonObject

from ..client import json_list, json_object
from ..device_words import OFF, OK, staff_devices
from ..i18n import t
from .base import DASH, KioskScreen, _age, _optional, bilingual, money
from .devices import LEVEL_STYLE


class DashboardScreen(KioskScreen):
    title_key = "dashboard"
    BINDINGS: ClassVar[list[BindingType]] = [*bilingual("m", "toggle_maintenance", "toggle_maintenance"),
                                *bilingual("a", "answer_call", "answer_call")]

    def compose_body(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(id="dash-summary")
            yield Static(id="dash-scans")

    def __init__(self) -> None:
        super().__init__()
        self.status: JsonObject = {}
        self.health: JsonObject = {}
        self.outbox: JsonObject = {}
        self.sales: JsonObject | None = None

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
        return f"{self.sales.get('orders', 0)} {t('orders_n', self.lang)}  {money(total, currency)}"

    def render_data(self) -> None:
        lang = self.lang
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column()
        found = self.status.get("link")
        link: JsonMapping = found if isinstance(found, dict) else {}
        connected = link.get("connected")
        link_text = Text(DASH) if connected is None else (
            Text(t("online", lang), style="green") if connected
            else Text(t("offline", lang), style="bold red")
        )
        if link.get("since"):
            link_text.append(f"  ({self.clock(link['since'])})")
        grid.add_row(t("link", lang), link_text)
        stats = json_object(self.outbox.get("stats") or {}, "outbox stats")
        grid.add_row(
            t("queue_depth", lang),
            f"{stats.get('depth', DASH)}   {t('oldest_unsent', lang)}: "
            f"{_age(stats.get('oldest_age_s'), lang)}   {t('dead_letters', lang)}: "
            f"{stats.get('dead_letters', DASH)}",
        )
        # The same device rows as the Devices screen (tui.device_words), fitted ones only.
        for row in staff_devices(self.health, self.status):
            if row.level == OFF or row.key == "network":
                continue
            _name, state, reason, _action = row.words(lang)
            name = t(row.key, lang)  # the dashboard's short labels
            shown = Text(state, style=LEVEL_STYLE[row.level])
            if row.level != OK and reason != DASH:
                shown.append(f"  {reason}")
            grid.add_row(name, shown)
        grid.add_row(t("sales_today", lang), self.sales_text())
        maintenance = self.status.get("maintenance")
        grid.add_row(
            t("maintenance", lang),
            DASH if maintenance is None else (
                Text(t("on", lang), style="bold yellow") if maintenance else Text(t("off", lang))
            ),
        )
        grid.add_row(t("state", lang), str(self.status.get("state", DASH)))
        call = self.status.get("staff_call")
        if isinstance(call, dict) and call.get("active"):  # 呼叫店员: on top until answered
            banner = Text(f" {t('staff_call', lang)}  {t('staff_call_since', lang)} "
                          f"{self.clock(call.get('called_at'))}  [a] {t('answer_call', lang)} ",
                          style="bold reverse red")
            self.query_one("#dash-summary", Static).update(Group(banner, grid))
        else:
            self.query_one("#dash-summary", Static).update(grid)
        scans = json_list(self.status.get("last_scans") or [], "last scans")
        lines = [Text(t("last_scans", lang), style="bold underline")]
        for scan in scans[-6:]:
            if isinstance(scan, dict):
                lines.append(Text(
                    f"{self.clock(scan.get('at') or scan.get('seen_at'))}  {scan.get('kind', '')}  "
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

    def action_answer_call(self) -> None:
        """Staff came to the shopper: the call leaves the fleet view (answered by the TUI)."""
        call = self.status.get("staff_call")
        if not (isinstance(call, dict) and call.get("active")):
            self.kiosk.notify(t("no_call", self.lang), timeout=3)
            return

        async def act() -> str:
            await self.kiosk.client.answer_staff_call()
            return t("call_answered", self.lang)

        self.kiosk.guarded(act)
