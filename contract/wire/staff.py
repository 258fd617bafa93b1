"""Staff events (kiosk -> cloud on ``events``): approvals made with a signed badge."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .base import WireMessage, utcnow
from .cart import CART_EDITED

STAFF_APPROVED = "staff.approved"
#: staff and cart-edit event types, accepted by the cloud next to ``events.EVENT_TYPES``
STAFF_EVENT_TYPES = frozenset({STAFF_APPROVED, CART_EDITED})


class StaffApprovalData(BaseModel):
    """Payload of ``staff.approved``: who approved what at the kiosk, with a signed badge."""

    model_config = ConfigDict(extra="ignore")

    staff_id: str = Field(min_length=1, max_length=64)
    badge_id: str = Field(min_length=1, max_length=32, description="the badge's token id")
    role: str | None = None
    action: str = Field(
        description="age_check | maintenance_on | maintenance_off | void_line | void_cart")
    order_no: str | None = None
    at: datetime
    detail: dict[str, Any] = Field(default_factory=dict)


class StaffCall(WireMessage):
    """呼叫店员: the kiosk's retained message on ``staff/call`` (``topics.STAFF_CALL``).

    ``active`` from the shopper's call until staff answer it (a badge scanned at the
    kiosk, or the staff TUI); the answered state stays retained so the fleet view shows
    who answered and when. ``ts`` orders them (an older one never overwrites a newer).
    """

    active: bool
    call_id: str = Field(min_length=1, max_length=40)
    reason: str = Field(default="help", max_length=64)
    called_at: datetime
    answered_at: datetime | None = None
    answered_by: str | None = Field(default=None, max_length=64)
    ts: datetime = Field(default_factory=utcnow)
