"""The store's stock alerts as the bridge last announced them, for the staff TUI.

The bridge keeps a retained :class:`~contract.wire.stock.StockAlerts` on
``kiosk/v1/{store}/stock_alerts``; the broker hands it to the kiosk on every connect.
Nothing is stored on disk: while the kiosk has not heard from the bridge, the TUI says so
rather than showing an old list as current.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import aiomqtt

from contract.wire.base import WireError, decode, utcnow
from contract.wire.stock import StockAlerts

from .link import Link

log = logging.getLogger(__name__)


class StockAlertBoard:
    """Keeps the newest stock-alert snapshot of this kiosk's store."""

    def __init__(self, link: Link) -> None:
        self.link = link
        self.current: StockAlerts | None = None
        self.received_at: datetime | None = None

    def attach(self) -> StockAlertBoard:
        self.link.add_handler(self.link.topics.stock_alerts, self._on_message)
        return self

    async def _on_message(self, message: aiomqtt.Message) -> None:
        if not message.payload:
            return  # the retained list was cleared
        try:
            alerts = decode(StockAlerts, message.payload)
        except WireError as err:
            log.warning("dropped malformed stock alerts: %s", err.reason)
            return
        self.accept(alerts)

    def accept(self, alerts: StockAlerts) -> bool:
        """Keep ``alerts`` unless it is another store's or older than the one kept."""
        if alerts.store != self.link.topics.store:
            log.warning("dropped stock alerts of store %s", alerts.store)
            return False
        if self.current is not None and alerts.as_of < self.current.as_of:
            return False
        self.current, self.received_at = alerts, utcnow()
        return True

    def view(self) -> dict[str, Any]:
        """What the control API returns: the list, or ``received_at`` None before any."""
        if self.current is None:
            return {"store": self.link.topics.store, "received_at": None, "as_of": None,
                    "items": [], "more": 0}
        body = self.current.model_dump(mode="json", exclude={"v"})
        return {**body, "received_at": self.received_at.isoformat() if self.received_at
                else None}
