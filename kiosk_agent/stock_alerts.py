"""The store's stock alerts as the bridge last announced them, for the staff TUI.

The bridge keeps a retained :class:`~contract.wire.stock.StockAlerts` on
``kiosk/v1/{store}/stock_alerts``; the broker hands it to the kiosk on every connect.
Nothing is stored on disk: while the kiosk has not heard from the bridge, the TUI says so
rather than showing an old list as current.
"""

from __future__ import annotations

from contract.wire.base import decode
from contract.wire.stock import StockAlerts

from .store_board import StoreBoard


class StockAlertBoard(StoreBoard[StockAlerts]):
    """Keeps the newest stock-alert snapshot of this kiosk's store."""

    what = "stock alerts"

    def topic(self) -> str:
        return self.link.topics.stock_alerts

    def parse(self, payload: object) -> StockAlerts:
        return decode(StockAlerts, payload)
