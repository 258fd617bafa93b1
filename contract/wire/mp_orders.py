"""New mini-program orders for a store's staff: the bridge's retained snapshot on
``kiosk/v1/{store}/mp_orders`` (:func:`.topics.store_mp_orders`).

A paid mini-program order must be prepared by the store at once (pick-up or delivery):
the bridge keeps an open ``mp_order`` alert for it, and every kiosk of the store receives
the list of open ones (retained, so a kiosk that connects later has it at once) for the
staff TUI. Staff acknowledge one at a kiosk (``mp_order.ack`` over the kiosk's RPC): the
alert is resolved at the bridge and the next snapshot no longer lists it.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from .base import WireMessage

# A store with more open orders than this gets the oldest ones first (a retained message
# is re-sent to every kiosk on every connect: keep it small).
MAX_MP_ORDER_ALERTS = 100


class MpOrderAlertItem(BaseModel):
    """One paid mini-program order the store has not acknowledged yet."""

    model_config = ConfigDict(extra="ignore")

    id: int = Field(description="the bridge's alert id (what mp_order.ack names)")
    order_no: str = Field(max_length=64)
    fulfillment: str = Field(max_length=16, description="pickup | delivery")
    total: int = Field(ge=0, description="minor units")
    currency: str = Field(default="CNY", min_length=3, max_length=3)
    products: int = Field(default=0, ge=0, description="order lines")
    since: datetime


class MpOrderAlerts(WireMessage):
    """The store's open mini-program order alerts, oldest first."""

    store: str = Field(max_length=64)
    as_of: datetime
    items: list[MpOrderAlertItem] = Field(default_factory=list, max_length=MAX_MP_ORDER_ALERTS)
    more: int = Field(default=0, ge=0, description="open orders left out of items")


class MpOrderAckParams(BaseModel):
    """``mp_order.ack``: staff at a kiosk of the store acknowledged the order's alert."""

    model_config = ConfigDict(extra="ignore")

    alert_id: int = Field(gt=0)
    by: str = Field(default="kiosk-tui", min_length=1, max_length=64,
                    description="the staff member (badge subject) or kiosk-tui")
