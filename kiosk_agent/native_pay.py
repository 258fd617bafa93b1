"""WeChat Pay Native QR (扫码支付) over the link: the kiosk side of ``payment.native``.

For a shopper who cannot show a payment code. The attempt is in the journal before the
request (the checkout's ``payment_started``, as for a payment code); then:

* ``payment.native`` answers the QR (WeChat's ``code_url``), which the caller shows
  (printed on the receipt printer); not shown: the QR is closed at once;
* while the shopper scans and confirms, ``payment.status`` is read every
  :data:`POLL_S` (the bridge's record, paid by WeChat's notification) and
  ``payment.native`` asked again every :data:`QUERY_S` (the bridge queries WeChat, for a
  notification that was lost);
* the shopper cancels, or nobody pays within ``wait_s``: ``payment.native.close``
  closes it at WeChat (paid meanwhile: it comes back paid);
* any step whose outcome the kiosk cannot learn (no reply, link lost) leaves the attempt
  ``unknown`` for the same settlement as a payment code (``KioskPayments.settle_attempt``,
  ``resume_unsettled`` after a restart): ``payment.settle`` closes an open QR at the
  bridge, so it is paid once or not at all, and never charged twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from pydantic import ValidationError

from common.jsontypes import JsonMapping, JsonObject
from contract.wire import rpc as wire_rpc
from contract.wire.payments import NativeParams, NativeResult

from .link import LinkDown, RpcFailed, RpcTimeout
from .payments import NOT_RUN_CODES, KioskPayments, PaymentOutcome

log = logging.getLogger(__name__)

# How often the bridge's record is read while the QR is out: the shopper's phone confirms
# within seconds of the notification; a status read costs the bridge one row lookup.
POLL_S = 1.0
# How often WeChat itself is asked (through ``payment.native``) in case its notification
# was lost: WeChat asks merchants to query no faster than every few seconds.
QUERY_S = 6.0
# Deadline of one status read while the QR is out: the bridge answers from its own record,
# so a slow answer means trouble; a short one keeps a cancel by the shopper prompt.
STATUS_RPC_TIMEOUT_S = 5.0
# How long the QR may wait for the shopper before it is closed: long enough to open
# WeChat, scan and enter a PIN; short enough that the next shopper is not kept waiting.
WAIT_S = 120.0

ShowQr = Callable[[str], Awaitable[bool]]


def _outcome(result: JsonMapping, reason: str | None = None) -> PaymentOutcome:
    """A ``payment.native``/``payment.native.close``/``payment.status`` reply as an outcome."""
    r = NativeResult.model_validate(result)
    if r.status == "unknown":
        return PaymentOutcome("unknown", r.out_trade_no, reason, message_zh=r.message_zh,
                              message_en=r.message_en)
    if r.status == "paid":
        return PaymentOutcome("paid", r.out_trade_no, None, r.provider_ref,
                              message_zh=r.message_zh, message_en=r.message_en)
    return PaymentOutcome.of(r.status, r.out_trade_no, reason)


async def pay_by_qr(gw: KioskPayments, order_no: str, out_trade_no: str, amount: int,
                    currency: str, *, show: ShowQr, cancelled: asyncio.Event,
                    wait_s: float = WAIT_S, poll_s: float = POLL_S,
                    query_s: float = QUERY_S) -> PaymentOutcome:
    """One Native QR attempt (already journaled ``pending``) until paid, failed or unknown.

    Args:
        show: shows the QR to the shopper; False when it could not (the QR is closed).
        cancelled: set when the shopper gives up; the QR is closed.
    """
    link = gw.link
    try:
        params = NativeParams(order_no=order_no, out_trade_no=out_trade_no, amount=amount,
                              currency=currency).model_dump()
    except ValidationError as err:
        log.warning("native payment %s not sent: %s", out_trade_no, err.errors()[0]["msg"])
        return await gw.record(PaymentOutcome.of("failed", out_trade_no, "bad_params"))
    try:
        first = NativeResult.model_validate(
            await link.request(wire_rpc.PAYMENT_NATIVE, params, gw.charge_timeout_s))
    except LinkDown:
        log.warning("native payment %s not sent: link down", out_trade_no)
        return await gw.record(PaymentOutcome.of("failed", out_trade_no, "offline_limit"))
    except RpcFailed as err:
        if err.code in NOT_RUN_CODES:
            log.warning("native payment %s refused by the cloud: %s", out_trade_no, err.code)
            return await gw.record(PaymentOutcome.of("failed", out_trade_no, err.code))
        log.warning("native payment %s: cloud error %s; settling", out_trade_no, err.code)
        return await _unknown(gw, order_no, out_trade_no, amount, currency, err.code)
    except (TimeoutError, RpcTimeout, OSError, ValidationError) as err:
        log.warning("native payment %s: no usable reply (%s); settling", out_trade_no,
                    type(err).__name__)
        return await _unknown(gw, order_no, out_trade_no, amount, currency, "no_reply")
    if first.status != "unknown":          # settled before any QR (refused by WeChat)
        return await gw.record(_outcome(first.model_dump()))
    if not first.code_url:
        return await _close(gw, order_no, out_trade_no, amount, currency, "qr_unavailable")
    if not await show(first.code_url):
        log.warning("native payment %s: the QR could not be shown; closing", out_trade_no)
        return await _close(gw, order_no, out_trade_no, amount, currency, "qr_unavailable")
    log.info("native payment %s: QR shown, waiting for the shopper", out_trade_no)
    out = await _wait_paid(gw, params, cancelled, wait_s, poll_s, query_s)
    if out is not None:
        return await gw.record(out)
    reason = "qr_cancelled" if cancelled.is_set() else "qr_expired"
    return await _close(gw, order_no, out_trade_no, amount, currency, reason)


async def _wait_paid(gw: KioskPayments, params: JsonObject, cancelled: asyncio.Event,
                     wait_s: float, poll_s: float, query_s: float) -> PaymentOutcome | None:
    """Poll until the QR is paid or failed (the outcome), or cancelled / expired (None).

    A lost link or a slow reply only skips a poll: the QR stays valid at WeChat, and
    the shopper may pay it meanwhile (the notification reaches the bridge anyway)."""
    otn = params["out_trade_no"]
    end = time.monotonic() + wait_s
    next_query = time.monotonic() + query_s
    while not cancelled.is_set():
        left = end - time.monotonic()
        if left <= 0:
            return None
        try:
            await asyncio.wait_for(cancelled.wait(), min(poll_s, left))
            return None
        except TimeoutError:
            pass
        if not gw.link.connected.is_set():
            continue  # offline: nothing to ask; the wait runs on (the QR stays payable)
        query = time.monotonic() >= next_query
        try:
            if query:
                next_query = time.monotonic() + query_s
                reply = await gw.link.request(wire_rpc.PAYMENT_NATIVE, params,
                                              gw.charge_timeout_s)
            else:
                reply = await gw.link.request(wire_rpc.PAYMENT_STATUS, {"out_trade_no": otn},
                                              min(gw.charge_timeout_s, STATUS_RPC_TIMEOUT_S))
        except (TimeoutError, LinkDown, RpcTimeout, RpcFailed, OSError) as err:
            log.info("native payment %s: poll not answered (%s)", otn, type(err).__name__)
            continue
        try:
            out = _outcome(reply)  # payment.status answers a ChargeResult: same fields
        except ValidationError as err:
            log.warning("native payment %s: bad reply %s", otn, err.errors()[0]["msg"])
            continue
        if out.status != "unknown":
            log.info("native payment %s: %s", otn, out.status)
            return out
    return None


async def _close(gw: KioskPayments, order_no: str, out_trade_no: str, amount: int,
                 currency: str, reason: str) -> PaymentOutcome:
    """Close the QR at WeChat (``payment.native.close``); paid meanwhile comes back paid."""
    try:
        reply = await gw.link.request(wire_rpc.PAYMENT_NATIVE_CLOSE,
                                      {"out_trade_no": out_trade_no}, gw.charge_timeout_s)
        out = _outcome(reply, reason)
    except (TimeoutError, LinkDown, RpcTimeout, RpcFailed, OSError, ValidationError) as err:
        log.warning("native payment %s: close not answered (%s); settling", out_trade_no,
                    type(err).__name__)
        return await _unknown(gw, order_no, out_trade_no, amount, currency, reason)
    if out.status == "unknown":
        return await _unknown(gw, order_no, out_trade_no, amount, currency, reason)
    log.info("native payment %s closed: %s (%s)", out_trade_no, out.status, reason)
    return await gw.record(out)


async def _unknown(gw: KioskPayments, order_no: str, out_trade_no: str, amount: int,
                   currency: str, reason: str) -> PaymentOutcome:
    """Outcome unknown: journaled so, then the payment-code path's settlement."""
    await gw.journal.set_payment_attempt_status(out_trade_no, "unknown", reason=reason)
    out = await gw.settle_attempt(out_trade_no, order_no, "wechat", amount, currency)
    if out.status == "failed" and reason.startswith("qr_"):  # the shopper's words for it
        out = PaymentOutcome.of("failed", out_trade_no, reason)
    return out
