"""Cart events (kiosk -> cloud on ``events``): what was taken out of a cart, by whom.

A line removed or a quantity lowered at the kiosk is the most common way goods leave a
self-checkout unpaid, so every edit is journalled with its outbox event: the shopper's
own edits while scanning, and the voids a staff badge approved (a line, or the whole
cart, once the shopper has asked to pay).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

CART_EDITED = "cart.edited"

CartEditAction = Literal["set_quantity", "remove_line", "void_cart"]


class CartEditData(BaseModel):
    """Payload of ``cart.edited``: one edit of a kiosk cart."""

    model_config = ConfigDict(extra="ignore")

    action: CartEditAction
    product_id: str | None = Field(default=None, max_length=64,
                                   description="the line's product (none for void_cart)")
    qty_before: int = Field(default=0, ge=0, description="the line's qty (void_cart: lines)")
    qty_after: int = Field(default=0, ge=0)
    amount_before: int = Field(default=0, description="the cart's total before, fen")
    amount_after: int = Field(default=0, description="the cart's total after, fen")
    order_no: str | None = Field(default=None, description="set once a payment was tried")
    staff_id: str | None = Field(default=None, max_length=64,
                                 description="who approved it with a badge; none: the shopper")
    badge_id: str | None = Field(default=None, max_length=32)
    at: datetime
