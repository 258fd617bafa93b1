"""The store's stock alerts from the cloud: stockouts, near-expiry lots, below reorder
point, overstock (read-only here; staff acknowledge them in the console)."""

from __future__ import annotations

from datetime import datetime

from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from common.jsontypes import JsonMapping, JsonObject

from ..client import json_number, json_objects, json_text
from ..i18n import t
from .base import DASH, KioskScreen


class StockScreen(KioskScreen):
    title_key = "stock"
    AUTO_FOCUS = "#stock-alerts"

    def compose_body(self) -> ComposeResult:
        yield Static(id="stock-summary")
        yield DataTable(id="stock-alerts", cursor_type="row", zebra_stripes=True)

    def __init__(self) -> None:
        super().__init__()
        self.reply: JsonObject = {}

    def relabel(self) -> None:
        super().relabel()
        table = self.query_one("#stock-alerts", DataTable)
        table.clear(columns=True)
        for key, width in (("stock_kind", 12), ("stock_product", 22), ("stock_detail", 28),
                           ("stock_state", 8)):
            table.add_column(t(key, self.lang), key=key, width=width)
        self._fill()

    async def refresh_data(self) -> None:
        self.reply = await self.kiosk.client.stock_alerts()
        self._fill()

    def _detail(self, item: JsonMapping) -> str:
        lang = self.lang
        if item["kind"] == "near_expiry":
            left_days = item.get("days_left")
            days = None if left_days is None else json_number(left_days, "days_left")
            left = (t("stock_expired", lang) if days is not None and days < 0
                    else f"{days}{t('stock_days', lang)}" if days is not None else DASH)
            return (f"{t('stock_lot', lang)} {item.get('lot_no') or DASH} x{item.get('lot_qty')}"
                    f"  {item.get('expiry_date') or DASH} ({left})")
        text = f"{t('stock_on_hand', lang)} {item.get('on_hand', DASH)}"
        if item.get("reorder_point") is not None:
            text += f"  {t('stock_rop', lang)} {item['reorder_point']:g}"
        return text

    def _fill(self) -> None:
        lang, reply = self.lang, self.reply
        items = json_objects(reply.get("items", []), "stock alerts")
        if not reply.get("received_at"):
            summary = t("stock_not_received", lang)
        elif not items:
            summary = t("stock_none", lang)
        else:
            as_of = datetime.fromisoformat(json_text(reply["as_of"], "as_of")).astimezone(
                self.kiosk.store_zone)
            more = int(json_number(reply.get("more", 0), "more stock alerts"))
            summary = (f"{len(items) + more} {t('stock_alerts_count', lang)}"
                       f"   {t('stock_as_of', lang)} {as_of:%m-%d %H:%M}")
        self.query_one("#stock-summary", Static).update(summary)
        table = self.query_one("#stock-alerts", DataTable)
        if not table.columns:
            return
        table.clear()
        for item in items:
            name = (item.get("name_en") if lang == "en" else None) or item.get("name_zh")
            table.add_row(t(f"stock_{item['kind']}", lang), name or item["product_id"],
                          self._detail(item), t(f"stock_{item['state']}", lang),
                          key=str(item["id"]))
