"""The TUI's screens: Dashboard, Orders, Queue, Devices, Config, Logs.

Each screen fetches what it shows in :meth:`KioskScreen.refresh_data` (called by the
app every ~1.5 s while it is on top) and re-labels itself in :meth:`relabel` when
staff switch the language. State-changing keys go through ``app.guarded(...)``,
which asks for the staff PIN first when the session is locked.
"""

from __future__ import annotations

import io
import json
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, RichLog, Static

from kiosk_agent.money import format_minor

from .client import AgentUnavailable, ClientError, ControlError
from .i18n import t
from .modals import ReasonScreen

if TYPE_CHECKING:
    from .app import KioskTUI

DASH = "—"


def bilingual(key: str, action: str, label: str, *args: str, show: bool = True) -> list[Binding]:
    """Two bindings for one key, one per language; ``check_action`` shows the current one.

    The action is ``bi('<lang>', '<action>', args...)`` which runs ``action_<action>``.
    """
    params = "".join(f", {a!r}" for a in args)
    return [
        Binding(key, f"bi('{lang}', {action!r}{params})", t(label, lang), show=show)
        for lang in ("zh", "en")
    ]


class BilingualActions:
    """Mixin: dispatch ``bi(lang, action, *args)`` and hide the other language's bindings."""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "bi" and parameters:
            return parameters[0] == self.app.lang  # type: ignore[attr-defined]
        return True

    async def action_bi(self, lang: str, action: str, *args: str) -> None:
        method = getattr(self, f"action_{action}")
        result = method(*args)
        if result is not None and hasattr(result, "__await__"):
            await result


class StatusBar(Static):
    """Top line: kiosk, lock state and whether the agent answers."""


class TabLine(Static):
    """Second line: the screens and their number keys, the current one highlighted."""


class KioskScreen(BilingualActions, Screen):
    """Base of every screen: status bar on top, footer with the bindings below."""

    title_key = ""

    @property
    def kiosk(self) -> KioskTUI:
        return self.app  # type: ignore[return-value]

    @property
    def lang(self) -> str:
        return self.kiosk.lang

    def compose(self) -> ComposeResult:
        yield StatusBar(id="statusbar")
        yield TabLine(id="tabline")
        yield from self.compose_body()
        yield Footer(compact=True)

    def compose_body(self) -> ComposeResult:
        return iter(())

    def on_screen_resume(self) -> None:
        self.relabel()
        self.kiosk.schedule_refresh()

    def relabel(self) -> None:
        """Re-draw labels in the current language."""
        self.update_status_bar()

    def update_status_bar(self) -> None:
        try:
            self._update_status_bar()
        except NoMatches:  # screen being torn down at exit
            pass

    def _update_status_bar(self) -> None:
        app = self.kiosk
        bar = Text()
        bar.append(f" {t(self.title_key, self.lang)} ", style="bold reverse")
        bar.append(f"  {app.kiosk_name}  ")
        if app.client.unlocked:
            bar.append(f"[{t('unlocked', self.lang)}]", style="bold green")
        else:
            bar.append(f"[{t('locked', self.lang)}]", style="bold yellow")
        bar.append("  ")
        if app.agent_error:
            bar.append(f"{t('agent_down', self.lang)}: {app.agent_error}", style="bold red")
        else:
            bar.append(t("agent_ok", self.lang), style="green")
        self.query_one("#statusbar", StatusBar).update(bar)
        tabs = Text()
        for number, name in enumerate(SCREENS, start=1):
            style = "bold reverse" if name == self.title_key else ""
            tabs.append(f" {number} ", style="bold " + style)
            tabs.append(f"{t(name, self.lang)} ", style=style)
        self.query_one("#tabline", TabLine).update(tabs)

    async def refresh_data(self) -> None:
        """Fetch and show fresh data (raise :class:`ClientError` subclasses on failure)."""


def _get(data: Any, *path: str, default: Any = None) -> Any:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return default
        data = data[key]
    return data


def _age(seconds: float | None, lang: str) -> str:
    if seconds is None:
        return DASH
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"


def _clock(value: Any) -> str:
    """HH:MM:SS from an epoch float or ISO text."""
    try:
        if isinstance(value, int | float):
            return datetime.fromtimestamp(value).strftime("%H:%M:%S")
        if isinstance(value, str) and value:
            return datetime.fromisoformat(value).astimezone().strftime("%m-%d %H:%M")
    except (ValueError, OSError, OverflowError):
        pass
    return DASH if value in (None, "") else str(value)


async def _optional(call: Any) -> Any:
    """The result of ``call``, or None when the agent does not support it (501)."""
    try:
        return await call
    except ControlError as err:
        if err.status == 501:
            return None
        raise


# --------------------------------------------------------------------------- dashboard


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
        link = self.status.get("link") if isinstance(self.status.get("link"), dict) else {}
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
        for device in ("display", "scanner"):
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


# --------------------------------------------------------------------------- orders


class OrdersScreen(KioskScreen):
    title_key = "orders"
    # Focus the list, not the search box: digits must still switch screens.
    AUTO_FOCUS = "#orders-table"
    BINDINGS: ClassVar[list] = [
        *bilingual("slash", "focus_search", "search"),
        *bilingual("r", "reprint", "reprint"),
    ]

    def compose_body(self) -> ComposeResult:
        yield Input(id="order-search")
        yield DataTable(id="orders-table", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="order-detail-box"):
            yield Static(id="order-detail")

    def __init__(self) -> None:
        super().__init__()
        self.query_text = ""
        self.orders: list[dict] = []
        self.selected: str | None = None
        self.detail: dict | None = None

    def relabel(self) -> None:
        super().relabel()
        self.query_one("#order-search", Input).placeholder = t("search_hint", self.lang)
        table = self.query_one("#orders-table", DataTable)
        table.clear(columns=True)
        for key, width in (("order_no", 24), ("time", 12), ("total", 11), ("lines", 5), ("member", 12)):
            table.add_column(t(key, self.lang), key=key, width=width)
        self._fill_table()
        self._show_detail()

    def _fill_table(self) -> None:
        table = self.query_one("#orders-table", DataTable)
        if not table.columns:
            return
        table.clear()
        for order in self.orders:
            table.add_row(
                order.get("order_no", ""),
                _clock(order.get("completed_at")),
                format_minor(int(order.get("total", 0)), order.get("currency", "CNY")),
                str(order.get("lines", len(order.get("lines", [])) if isinstance(order.get("lines"), list) else "")),
                order.get("member_id") or "",
                key=order.get("order_no"),
            )
        if self.selected and self.selected in {o.get("order_no") for o in self.orders}:
            table.move_cursor(row=table.get_row_index(self.selected))

    async def refresh_data(self) -> None:
        orders = await self.kiosk.client.orders(self.query_text, limit=100)
        if orders != self.orders:
            self.orders = orders
            self._fill_table()

    def on_key(self, event: Any) -> None:
        if event.key == "escape" and isinstance(self.focused, Input):
            self.query_one("#orders-table", DataTable).focus()
            event.stop()

    @on(Input.Submitted, "#order-search")
    async def _search(self, event: Input.Submitted) -> None:
        self.query_text = event.value.strip()
        await self.kiosk.refresh_now()
        self.query_one("#orders-table", DataTable).focus()

    @on(DataTable.RowHighlighted, "#orders-table")
    @on(DataTable.RowSelected, "#orders-table")
    async def _select(self, event: DataTable.RowHighlighted | DataTable.RowSelected) -> None:
        order_no = event.row_key.value if event.row_key else None
        if not order_no or (order_no == self.selected and self.detail):
            return
        self.selected = order_no
        try:
            self.detail = await self.kiosk.client.order(order_no)
        except ClientError as err:
            self.detail = {"error": str(err)}
        self._show_detail()

    def _show_detail(self) -> None:
        static = self.query_one("#order-detail", Static)
        d = self.detail
        if not d:
            static.update("")
            return
        if "error" in d:
            static.update(Text(d["error"], style="red"))
            return
        currency = d.get("currency", "CNY")
        lines = Table.grid(padding=(0, 1))
        for _ in range(3):
            lines.add_column()
        for line in d.get("lines", []):
            name = line.get("name_en") if self.lang == "en" and line.get("name_en") else line.get("name_zh", "")
            lines.add_row(str(name), f"x{line.get('qty', 1)}", format_minor(int(line.get("amount", 0)), currency))
        tenders = ", ".join(
            f"{td.get('method')} {format_minor(int(td.get('amount', 0)), currency)}"
            + (f" {td['masked']}" if td.get("masked") else "")
            for td in d.get("tenders", [])
        )
        head = Text(
            f"{d.get('order_no', '')}  {t('total', self.lang)} "
            f"{format_minor(int(d.get('total', 0)), currency)}  {tenders}",
            style="bold",
        )
        static.update(Group(head, lines))

    def action_focus_search(self) -> None:
        self.query_one("#order-search", Input).focus()

    def action_reprint(self) -> None:
        order_no = self.selected
        if not order_no:
            self.notify(t("no_order_selected", self.lang), severity="warning")
            return

        async def act() -> str:
            await self.kiosk.client.reprint(order_no)
            return f"{order_no}: {t('reprint_queued', self.lang)}"

        self.kiosk.guarded(act)


# --------------------------------------------------------------------------- queue


class QueueScreen(KioskScreen):
    title_key = "queue"
    AUTO_FOCUS = "#dead-letters"
    BINDINGS: ClassVar[list] = [
        *bilingual("r", "retry", "retry"),
        *bilingual("x", "discard", "discard"),
    ]

    def compose_body(self) -> ComposeResult:
        yield Static(id="queue-stats")
        yield DataTable(id="dead-letters", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="letter-detail-box"):
            yield Static(id="letter-detail")

    def __init__(self) -> None:
        super().__init__()
        self.letters: list[dict] = []
        self.stats: dict = {}

    def relabel(self) -> None:
        super().relabel()
        table = self.query_one("#dead-letters", DataTable)
        table.clear(columns=True)
        for key, width in (("event", 10), ("type", 16), ("reason", 30), ("failed_at", 10)):
            table.add_column(t(key, self.lang), key=key, width=width)
        self._fill()

    def _fill(self) -> None:
        lang = self.lang
        self.query_one("#queue-stats", Static).update(
            f"{t('queue_depth', lang)}: {self.stats.get('depth', DASH)}   "
            f"{t('oldest_unsent', lang)}: {_age(self.stats.get('oldest_age_s'), lang)}   "
            f"{t('dead_letters', lang)}: {self.stats.get('dead_letters', DASH)}"
        )
        table = self.query_one("#dead-letters", DataTable)
        if not table.columns:
            return
        keep = self.selected_id()
        table.clear()
        for letter in self.letters:
            table.add_row(
                letter["event_id"][-8:], letter.get("type", ""), letter.get("reason", ""),
                _clock(letter.get("failed_at")), key=letter["event_id"],
            )
        ids = [letter["event_id"] for letter in self.letters]
        if keep in ids:
            table.move_cursor(row=ids.index(keep))
        self._show_detail()
        if not self.letters:
            self.query_one("#letter-detail", Static).update(t("no_dead_letters", lang))

    def selected_id(self) -> str | None:
        table = self.query_one("#dead-letters", DataTable)
        if not self.letters or table.row_count == 0:
            return None
        try:
            row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        except Exception:
            return None
        return row_key.value

    def _show_detail(self) -> None:
        event_id = self.selected_id()
        letter = next((x for x in self.letters if x["event_id"] == event_id), None)
        if letter is None:
            return
        payload = letter.get("payload")
        try:
            pretty = json.dumps(json.loads(payload), ensure_ascii=False, indent=1)
        except (TypeError, ValueError):
            pretty = str(payload)
        self.query_one("#letter-detail", Static).update(
            Group(
                Text(f"{letter['event_id']}  seq {letter.get('seq')}  {letter.get('type')}", style="bold"),
                Text(f"{t('reason', self.lang)}: {letter.get('reason')}", style="yellow"),
                Text(pretty[:4000]),
            )
        )

    @on(DataTable.RowHighlighted, "#dead-letters")
    def _highlight(self) -> None:
        self._show_detail()

    async def refresh_data(self) -> None:
        outbox = await self.kiosk.client.outbox()
        stats, letters = outbox.get("stats") or {}, outbox.get("dead_letters") or []
        if (stats, letters) != (self.stats, self.letters):
            self.stats, self.letters = stats, letters
            self._fill()

    def action_retry(self) -> None:
        event_id = self.selected_id()
        if not event_id:
            self.notify(t("no_letter_selected", self.lang), severity="warning")
            return

        async def act() -> str:
            await self.kiosk.client.retry_dead_letter(event_id)
            return f"{event_id[-8:]}: {t('retried', self.lang)}"

        self.kiosk.guarded(act)

    def action_discard(self) -> None:
        event_id = self.selected_id()
        if not event_id:
            self.notify(t("no_letter_selected", self.lang), severity="warning")
            return

        def got_reason(reason: str | None) -> None:
            if not reason:
                return

            async def act() -> str:
                await self.kiosk.client.discard_dead_letter(event_id, reason)
                return f"{event_id[-8:]}: {t('discarded', self.lang)}"

            self.kiosk.guarded(act)

        self.app.push_screen(ReasonScreen(t("discard_reason", self.lang)), got_reason)


# --------------------------------------------------------------------------- devices


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
    pixels = image.load()
    text = Text()
    for y in range(0, height, 2):
        for x in range(width):
            top, bottom = pixels[x, y], pixels[x, y + 1]
            text.append("▀", style=f"rgb({top[0]},{top[1]},{top[2]}) on rgb({bottom[0]},{bottom[1]},{bottom[2]})")
        text.append("\n")
    return text


class DevicesScreen(KioskScreen):
    title_key = "devices"
    BINDINGS: ClassVar[list] = [
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
        self.health: dict = {}

    async def refresh_data(self) -> None:
        self.health = await _optional(self.kiosk.client.health()) or {}
        self._fill()

    def relabel(self) -> None:
        super().relabel()
        if hasattr(self, "health"):
            self._fill()

    def _fill(self) -> None:
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column()
        for name, info in self.health.items():
            info = info if isinstance(info, dict) else {"state": info}
            state = str(info.get("state", DASH))
            style = "green" if state in ("ok", "online", "ready") else "bold red"
            extra = "  ".join(f"{k}={v}" for k, v in info.items() if k != "state")
            grid.add_row(t(name, self.lang), Text(state, style=style), extra)
        self.query_one("#device-health", Static).update(grid)

    def _show_result(self, title: str, value: Any) -> None:
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


# --------------------------------------------------------------------------- config


class ConfigScreen(KioskScreen):
    title_key = "config"

    def compose_body(self) -> ComposeResult:
        yield DataTable(id="config-table", cursor_type="row", zebra_stripes=True)

    def __init__(self) -> None:
        super().__init__()
        self.values: list[dict] = []

    def relabel(self) -> None:
        super().relabel()
        table = self.query_one("#config-table", DataTable)
        table.clear(columns=True)
        for key, width in (("key", 32), ("value", 30), ("source", 10)):
            table.add_column(t(key, self.lang), key=key, width=width)
        self._fill()

    def _fill(self) -> None:
        table = self.query_one("#config-table", DataTable)
        if not table.columns:
            return
        table.clear()
        styles = {"default": "dim", "file": "", "shadow": "cyan", "env": "magenta", "credential": "yellow"}
        for row in self.values:
            value = row.get("value")
            shown = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
            source = str(row.get("source", ""))
            table.add_row(row.get("key", ""), shown, Text(source, style=styles.get(source, "")), key=row.get("key"))

    async def refresh_data(self) -> None:
        values = await self.kiosk.client.config()
        if values != self.values:
            self.values = values
            self._fill()


# --------------------------------------------------------------------------- logs


class LogsScreen(KioskScreen):
    title_key = "logs"
    BINDINGS = bilingual("w", "toggle_level", "warnings_only")

    def compose_body(self) -> ComposeResult:
        yield RichLog(id="log", max_lines=2000, wrap=True, markup=False, highlight=False)

    def __init__(self) -> None:
        super().__init__()
        self.after = 0
        self.warnings_only = False

    async def refresh_data(self) -> None:
        level = "WARNING" if self.warnings_only else None
        reply = await self.kiosk.client.logs(after=self.after, limit=500, level=level)
        widget = self.query_one("#log", RichLog)
        styles = {"WARNING": "yellow", "ERROR": "bold red", "CRITICAL": "bold red", "DEBUG": "dim"}
        for line in reply.get("lines", []):
            stamp = datetime.fromtimestamp(line["ts"]).strftime("%H:%M:%S")
            widget.write(Text(
                f"{stamp} {line['level'][:4]} {line['logger']}: {line['message']}",
                style=styles.get(line["level"], ""),
            ))
        self.after = max(self.after, int(reply.get("last_seq", self.after)))

    async def action_toggle_level(self) -> None:
        self.warnings_only = not self.warnings_only
        self.after = 0
        self.query_one("#log", RichLog).clear()
        await self.kiosk.refresh_now()


SCREENS: dict[str, type[KioskScreen]] = {
    "dashboard": DashboardScreen,
    "orders": OrdersScreen,
    "queue": QueueScreen,
    "devices": DevicesScreen,
    "config": ConfigScreen,
    "logs": LogsScreen,
}

__all__ = ["SCREENS", "AgentUnavailable", "BilingualActions", "KioskScreen", "bilingual"]
