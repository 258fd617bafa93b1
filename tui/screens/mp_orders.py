"""New mini-program orders of the store (paid in the mini-program, to prepare for pick-up
or delivery), from the cloud; staff acknowledge each one here (``k``), which clears it
at the bridge and on every kiosk of the store. While any is open the status bar of
every screen says so (:meth:`KioskScreen._update_status_bar`)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.widgets import DataTable, Static

from common.jsontypes import JsonMapping, JsonObject

from ..client import json_number, json_object, json_objects
from ..i18n import t
from .base import DASH, KioskScreen, bilingual, money


def new_orders(reply: JsonMapping) -> int:
    """How many new mini-program orders a ``/v1/mp-orders`` reply counts (listed + more)."""
    items = json_objects(reply.get("items", []), "mp orders")
    return len(items) + int(json_number(reply.get("more", 0), "more mp orders"))


class MpOrdersScreen(KioskScreen):
    title_key = "mp_orders"
    AUTO_FOCUS = "#mp-orders"
    BINDINGS: ClassVar[list[BindingType]] = [*bilingual("k", "ack", "mp_ack")]

    def compose_body(self) -> ComposeResult:
        yield Static(id="mp-summary")
        yield DataTable(id="mp-orders", cursor_type="row", zebra_stripes=True)

    def __init__(self) -> None:
        super().__init__()
        self.reply: JsonObject = {}

    def relabel(self) -> None:
        super().relabel()
        table = self.query_one("#mp-orders", DataTable)
        table.clear(columns=True)
        for key, width in (("mp_order_no", 26), ("mp_fulfillment", 8), ("mp_total", 12),
                           ("mp_products", 6), ("mp_since", 12)):
            table.add_column(t(key, self.lang), key=key, width=width)
        self._fill()

    async def refresh_data(self) -> None:
        self.reply = reply = await self.kiosk.client.mp_orders()
        self.kiosk.new_mp_orders = new_orders(reply)
        self._fill()

    def _fill(self) -> None:
        lang, reply = self.lang, self.reply
        items = json_objects(reply.get("items", []), "mp orders")
        if not reply.get("received_at"):
            summary = t("mp_not_received", lang)
        elif not items:
            summary = t("mp_none", lang)
        else:
            summary = f"{new_orders(reply)} {t('mp_count', lang)}"
        self.query_one("#mp-summary", Static).update(summary)
        table = self.query_one("#mp-orders", DataTable)
        if not table.columns:
            return
        table.clear()
        for item in items:
            kind = item.get("fulfillment") or ""
            table.add_row(item["order_no"], t(f"mp_{kind}", lang) if kind else DASH,
                          money(item.get("total", 0), item.get("currency", "CNY")),
                          str(item.get("products", DASH)), self.clock(item.get("since")),
                          key=str(item["id"]))

    def action_ack(self) -> None:
        """Staff took the order on: acknowledged at the bridge (the PIN first if locked)."""
        table = self.query_one("#mp-orders", DataTable)
        if not table.row_count:
            self.kiosk.notify(t("mp_select_first", self.lang), timeout=3)
            return
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        alert_id = int(str(row_key.value))

        async def act() -> str:
            out = await self.kiosk.client.ack_mp_order(alert_id)
            self.reply = json_object(out.get("orders", self.reply), "orders")
            self._fill()
            ack = json_object(out.get("ack", {}), "ack")
            return f"{t('mp_acked', self.lang)} {ack.get('order_no', '')}"

        self.kiosk.guarded(act)
