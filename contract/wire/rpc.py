"""Kiosk -> cloud requests (``rpc/req``) and their replies (``rpc/res``).

The MQTT 5 correlation data and response topic properties carry ``id`` too;
the body keeps it so a reply is matchable even through a broker that drops
properties. A reply that arrives after ``deadline`` is logged and dropped.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .base import WireMessage

# Methods the cloud serves. Params/result models for payments live in wire.payments.
PAYMENT_CHARGE = "payment.charge"
PAYMENT_STATUS = "payment.status"
PAYMENT_SETTLE = "payment.settle"
MEMBER_LOOKUP = "member.lookup"
#: lock a shown coupon (its coupon code) to the kiosk's order: {"code", "order_no",
#: "member_id"} -> {"coupon_id", "coupon"} (cloud_bridge.marketing.rpc_handlers)
COUPON_RESERVE = "coupon.reserve"
#: release the coupons still locked to the kiosk's order: {"order_no"} -> {"released"}
COUPON_RELEASE = "coupon.release"
#: Native QR payment (扫码支付) of a kiosk sale: NativeParams -> NativeResult (the QR to show;
#: asking again with the same out_trade_no answers the outcome, settled by notification
#: or by query)
PAYMENT_NATIVE = "payment.native"
#: close an unpaid Native QR payment (the shopper left): {"out_trade_no"} -> NativeResult
PAYMENT_NATIVE_CLOSE = "payment.native.close"
#: a kiosk takes over a parked cart (挂单) of its store: {"park_no"} -> the cart
PARKED_TAKE = "parked.take"
#: staff at a kiosk acknowledged a new mini-program order of its store:
#: MpOrderAckParams -> {"alert_id", "order_no", "resolved"} (contract.wire.mp_orders)
MP_ORDER_ACK = "mp_order.ack"


class RpcError(BaseModel):
    model_config = ConfigDict(extra="ignore")

    code: str
    message: str


class RpcRequest(WireMessage):
    id: str = Field(min_length=1, max_length=64, description="correlation id")
    method: str = Field(min_length=1, max_length=64)
    params: dict[str, Any] = Field(default_factory=dict)
    deadline: datetime


class RpcResponse(WireMessage):
    id: str = Field(min_length=1, max_length=64)
    ok: bool
    result: dict[str, Any] | None = None
    error: RpcError | None = None
