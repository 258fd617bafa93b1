"""Stock alerts for a store's staff: the bridge's retained snapshot on
``kiosk/v1/{store}/stock_alerts`` (:func:`.topics.store_stock_alerts`).

The cloud's supply chain raises them (below reorder point, stockout, overstock, near
expiry); every kiosk of the store receives the whole list at once (retained, so a kiosk
that connects later has it at once) and shows it on the staff TUI. A newer snapshot
replaces the older one; an empty list says there is nothing to do.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from .base import WireMessage

# The kinds a store's staff act on, most urgent first (the bridge sorts by this order).
STOCK_ALERT_KINDS = ("stockout", "near_expiry", "below_reorder_point", "overstock")
# A store with more open alerts than this gets the most urgent ones (a retained message
# is re-sent to every kiosk on every connect: keep it small).
MAX_STOCK_ALERTS = 200


class StockAlertItem(BaseModel):
    """One open (or acknowledged) stock alert of the store."""

    model_config = ConfigDict(extra="ignore")

    id: int
    kind: str = Field(max_length=32)
    state: str = Field(max_length=16, description="open | acknowledged")
    product_id: str = Field(max_length=64)
    name_zh: str | None = Field(default=None, max_length=200)
    name_en: str | None = Field(default=None, max_length=200)
    on_hand: int | None = None
    reorder_point: float | None = None
    lot_no: str | None = Field(default=None, max_length=64)
    lot_qty: int | None = None
    expiry_date: date | None = None
    days_left: int | None = None
    since: datetime


class StockAlerts(WireMessage):
    """The store's open stock alerts, as of ``as_of`` (the newest alert change)."""

    store: str = Field(max_length=64)
    as_of: datetime
    items: list[StockAlertItem] = Field(default_factory=list, max_length=MAX_STOCK_ALERTS)
    more: int = Field(default=0, ge=0, description="open alerts left out of items")
