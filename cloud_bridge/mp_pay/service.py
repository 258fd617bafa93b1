"""Rules of mini-program payment: pay an order with WeChat JSAPI, close unpaid ones.

* One out_trade_no per order (``J`` + order number): every ``pay`` of the same order
  reuses it and its prepay, so paying twice can never charge twice.
* The payment row (status ``awaiting``) is committed before WeChat is called, like the
  code-payment path: a crash after the provider call leaves a row the close job finds.
* The notification (payments domain) moves ``awaiting`` -> ``paid`` and marks the order
  paid in the same transaction (:func:`cloud_bridge.payments.jsapi.on_paid`).
* :func:`close_unpaid`: an order still ``created`` after the timeout is closed at WeChat
  first (so it can no longer be paid), then its payment failed and the order cancelled.
  If WeChat says it was paid meanwhile, it is settled from the query instead.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge import orders
from cloud_bridge.db import Database
from cloud_bridge.errors import Conflict, NotFound, Unavailable, UpstreamError
from cloud_bridge.models import Order, OrderLine, now
from cloud_bridge.payments import jsapi
from cloud_bridge.payments.models import AWAITING, FAILED, PAID, Payment
from cloud_bridge.payments.providers.base import PaymentProvider
from cloud_bridge.payments.providers.wechat import WechatPayProvider
from cloud_bridge.payments.service import PaymentService
from cloud_bridge.payments.store import PaymentRow, utcnow
from common.jsontypes import JsonObject

if TYPE_CHECKING:
    from cloud_bridge.config import BridgeConfig

log = logging.getLogger(__name__)

NOTIFY_PATH = "/api/v1/pay/notify/wechat"
ACTOR = "system:mp-pay-timeout"


def out_trade_no_for(order_no: str) -> str:
    """The order's one WeChat out_trade_no (WeChat allows 6..32 characters)."""
    no = "J" + order_no
    if len(no) > 32:
        raise Conflict(f"order number {order_no} is too long for WeChat Pay")
    return no


def notify_url(config: BridgeConfig, origin: str | None = None) -> str:
    """Where WeChat sends the payment notification: the configured URL, else the public
    one; in sandbox mode (``[mp] sandbox``) the address the caller reached us at."""
    url = config.payments.jsapi_notify_url
    if url:
        return url
    if config.http.public_url:
        return config.http.public_url.rstrip("/") + NOTIFY_PATH
    if config.mp.sandbox and origin:
        return origin.rstrip("/") + NOTIFY_PATH
    raise Unavailable("mini-program payment needs [payments] jsapi_notify_url or "
                      "[http] public_url")


def _wechat(payments: PaymentService | None) -> WechatPayProvider:
    provider = payments.providers.get("wechat") if payments is not None else None
    if not isinstance(provider, WechatPayProvider):
        raise Unavailable("WeChat Pay is not configured")
    return provider


async def pay(db: Database, payments: PaymentService | None, *, order_no: str, openid: str,
              notify: str) -> JsonObject:
    """``wx.requestPayment`` parameters for the caller's own unpaid order.

    Raises:
        NotFound: no such order, or another shopper's.
        Conflict: the order is not waiting for payment (paid, cancelled, closed).
        UpstreamError / Unavailable: WeChat refused or could not be reached.
    """
    provider = _wechat(payments)
    assert payments is not None
    async with db.read() as s:
        order = await s.scalar(select(Order).where(Order.order_no == order_no))
        if order is None or order.openid != openid:
            raise NotFound(f"order {order_no} not found")
        if order.status != orders.CREATED or order.source != "mp":
            raise Conflict(f"order {order_no} is {order.status}: nothing to pay")
        if order.total <= 0:
            raise Conflict(f"order {order_no} has nothing to pay")
        store, amount, currency = order.store, order.total, order.currency
        names = (await s.scalars(select(OrderLine.name_zh)
                                 .where(OrderLine.order_id == order.id)
                                 .order_by(OrderLine.line_no).limit(3))).all()
    no = out_trade_no_for(order_no)
    # Recorded before WeChat hears of it (committed when create returns).
    _, row = await payments.store.create(
        status=AWAITING, out_trade_no=no, order_no=order_no, store=store, kiosk=None,
        method="wechat", amount=amount, currency=currency)
    if row["status"] != AWAITING:
        raise Conflict(f"order {order_no}: its payment is {row['status']}")
    prepay_id = row.get("provider_ref")
    if not prepay_id:
        description = ("、".join(names) or order_no)[:127]
        try:
            prepay_id = await jsapi.create_prepay(
                provider, out_trade_no=no, amount=amount, currency=currency,
                description=description, openid=openid, notify_url=notify)
        except jsapi.PrepayError as err:
            if err.code in ("ORDERPAID", "ORDERCLOSED"):
                raise Conflict(f"order {order_no}: WeChat says {err.code}") from err
            raise UpstreamError(f"WeChat Pay refused or did not answer ({err.code})") from err
        await payments.store.transition(no, (AWAITING,), AWAITING, provider_ref=prepay_id,
                                        provider_code="PREPAY")
    log.info("mini-program order %s: JSAPI prepay ready (%s)", order_no, no)
    return {**jsapi.request_payment_params(provider, prepay_id), "order_no": order_no,
            "out_trade_no": no, "amount": amount, "currency": currency}


async def _cancel_order(s: AsyncSession, order_no: str, reason: str) -> bool:
    order = await orders.get_order(s, order_no, lock=True)
    if order.status != orders.CREATED:
        return False
    await orders.change_status(s, order, orders.CANCELLED, ACTOR, reason=reason)
    return True


async def close_unpaid(db: Database, payments: PaymentService | None, timeout_s: float) -> int:
    """Close every mini-program order unpaid for ``timeout_s``; returns how many were
    cancelled. Safe to run in several workers at once (every step is conditional)."""
    if payments is None or "wechat" not in payments.providers:
        # No WeChat Pay here: orders are paid by other means (staff), never timed out.
        return 0
    cutoff = now() - timedelta(seconds=timeout_s)
    async with db.read() as s:
        due = (await s.scalars(select(Order.order_no).where(
            Order.source == "mp", Order.status == orders.CREATED,
            Order.created_at < cutoff).order_by(Order.created_at).limit(200))).all()
    closed = 0
    for order_no in due:
        try:
            closed += await _close_one(db, payments, order_no)
        except Exception:  # one bad order must not stop the sweep
            log.exception("closing unpaid mini-program order %s failed", order_no)
    return closed


async def _close_one(db: Database, payments: PaymentService, order_no: str) -> bool:
    no = out_trade_no_for(order_no)
    row = await payments.store.get(no)
    if row is None:
        # Never paid: record the attempt failed first, so a late ``pay`` finds it closed.
        async with db.read() as s:
            order = await orders.get_order(s, order_no)
            store, amount, currency = order.store, order.total, order.currency
        if amount > 0:
            _, row = await payments.store.create(
                status=FAILED, out_trade_no=no, order_no=order_no, store=store, kiosk=None,
                method="wechat", amount=amount, currency=currency, reason="order_timeout")
    if row is not None and row["status"] == AWAITING:
        provider = _wechat(payments)
        outcome = await jsapi.close(provider, no)
        if outcome == "paid":
            return await _settle_from_query(db, provider, row)
        if outcome == "unknown":
            return False  # next run
        await payments.store.transition(no, (AWAITING,), FAILED, reason="order_timeout",
                                        provider_code="CLOSED")
        row = await payments.store.get(no)
    if row is not None and row["status"] == PAID:
        return False  # paid meanwhile: the notification settles the order

    async def work(s: AsyncSession) -> bool:
        return await _cancel_order(s, order_no, "payment timeout")

    cancelled = await db.transact(work)
    if cancelled:
        log.info("mini-program order %s cancelled: unpaid after the timeout", order_no)
    return cancelled


async def _settle_from_query(db: Database, provider: PaymentProvider, row: PaymentRow) -> bool:
    """WeChat refused to close because the trade is paid: settle it from the query."""
    out = await provider.query(row["out_trade_no"])
    if out.status != "paid" or out.amount != row["amount"]:
        return False

    async def work(s: AsyncSession) -> bool:
        p = await s.scalar(select(Payment).where(Payment.out_trade_no == row["out_trade_no"])
                           .with_for_update())
        if p is None or p.status != AWAITING:
            return False
        at = utcnow()
        await s.execute(update(Payment).where(Payment.id == p.id, Payment.status == AWAITING)
                        .values(status=PAID, provider_ref=out.provider_ref,
                                provider_code="QUERY", updated_at=at, settled_at=at))
        await jsapi.on_paid(s, p, out.provider_ref)
        return False

    return await db.transact(work)
