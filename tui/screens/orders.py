"""Orders: search the journal's orders, show one, reprint its receipt."""

from __future__ import annotations

from typing import ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Input, Static

from common.jsontypes import JsonObject
from contract.money import format_minor

from ..client import ClientError, json_number, json_object, json_objects
from ..i18n import t
from ..modals import ReasonScreen
from .base import KioskScreen, bilingual, money


class OrdersScreen(KioskScreen):
    title_key = "orders"
    # Focus the list, not the search box: digits must still switch screens.
    AUTO_FOCUS = "#orders-table"
    BINDINGS: ClassVar[list[BindingType]] = [
        *bilingual("slash", "focus_search", "search"),
        *bilingual("r", "reprint", "reprint"),
        *bilingual("g", "take_parked", "take_parked"),
    ]

    def compose_body(self) -> ComposeResult:
        yield Input(id="order-search")
        yield DataTable(id="orders-table", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="order-detail-box"):
            yield Static(id="order-detail")

    def __init__(self) -> None:
        super().__init__()
        self.query_text = ""
        self.orders: list[JsonObject] = []
        self.selected: str | None = None
        self.detail: JsonObject | None = None

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
            order_no = order.get("order_no")
            table.add_row(
                order.get("order_no", ""),
                self.clock(order.get("completed_at")),
                money(order.get("total", 0), order.get("currency", "CNY")),
                str(order.get("lines", "")),  # the number of lines (/v1/orders)
                order.get("member_id") or "",
                key=order_no if isinstance(order_no, str) else None,
            )
        if self.selected and self.selected in {o.get("order_no") for o in self.orders}:
            table.move_cursor(row=table.get_row_index(self.selected))

    async def refresh_data(self) -> None:
        orders = await self.kiosk.client.orders(self.query_text, limit=100)
        if orders != self.orders:
            self.orders = orders
            self._fill_table()

    def on_key(self, event: events.Key) -> None:
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
            static.update(Text(str(d["error"]), style="red"))
            return
        currency = d.get("currency", "CNY")
        lines = Table.grid(padding=(0, 1))
        for _ in range(3):
            lines.add_column()
        for line in json_objects(d.get("lines", []), "order lines"):
            name = line.get("name_en") if self.lang == "en" and line.get("name_en") else line.get("name_zh", "")
            lines.add_row(str(name), f"x{line.get('qty', 1)}", money(line.get("amount", 0), currency))
        tenders = ", ".join(
            f"{td.get('method')} {money(td.get('amount', 0), currency)}"
            + (f" {td['masked']}" if td.get("masked") else "")
            for td in json_objects(d.get("tenders", []), "tenders")
        )
        head = Text(
            f"{d.get('order_no', '')}  {t('total', self.lang)} "
            f"{money(d.get('total', 0), currency)}  {tenders}",
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

    def action_take_parked(self) -> None:
        """挂单: a shopper parked a cart at a kiosk of this store; sell it here."""

        def got(park_no: str | None) -> None:
            if not park_no:
                return

            async def act() -> str:
                reply = await self.kiosk.client.take_parked(park_no.strip())
                taken = json_object(reply["taken"], "taken")
                total = int(json_number(taken["total"], "parked total"))
                return (f"{taken['park_no']}: {t('parked_taken', self.lang)} "
                        f"{format_minor(total, 'CNY')}")

            self.kiosk.guarded(act)

        self.app.push_screen(ReasonScreen(t("park_no_prompt", self.lang)), got)
