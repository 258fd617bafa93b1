"""WeChat Pay Native (扫码支付) for a kiosk sale, on the kiosk RPC.

When a shopper cannot show a payment code, the kiosk asks ``payment.native`` for a QR
(WeChat's ``code_url``), prints it or shows it on the display, and the shopper scans it
with WeChat and confirms. The attempt is recorded (status ``awaiting``, the kiosk's own
out_trade_no) before WeChat is called, so the same number is never a second trade:

* settled by notification: WeChat's notification marks it paid (the same verified,
  replay-keyed route as every WeChat payment); ``payment.status`` reads that, cheaply;
* settled by query: ``payment.native`` again with the same number asks WeChat and marks
  it paid from the query when the notification has not arrived;
* ``payment.native.close`` (the shopper left): ``/close`` at WeChat, so the QR can no
  longer be paid, then failed; if WeChat says it was paid, it is settled from the query.

Only the kiosk that made an attempt learns about it (another kiosk's number: not_found).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

import aiohttp
from sqlalchemy import select

from cloud_bridge import rpc
from common.jsontypes import JsonObject
from contract.wire.payments import ChargeStatus, NativeParams, NativeResult, shopper_message

from . import jsapi
from .models import AWAITING, FAILED, PAID, Payment
from .providers.base import ResponseNotTrusted
from .providers.wechat import WechatPayProvider
from .store import PaymentConflict, PaymentRow, utcnow

if TYPE_CHECKING:
    from .service import PaymentService

log = logging.getLogger(__name__)

NATIVE_PATH = "/v3/pay/transactions/native"
# What fits the payment row's provider_ref; a longer code_url is asked for again.
CODE_URL_MAX = 64


async def create_code_url(provider: WechatPayProvider, *, out_trade_no: str, amount: int,
                          currency: str, description: str, notify_url: str) -> str:
    """Create (or get back, for the same out_trade_no and amount) the Native QR's code_url.

    Raises:
        jsapi.PrepayError: refused by WeChat, or the outcome is unknown.
    """
    payload = {"appid": provider.appid, "mchid": provider.mchid,
               "description": description[:127], "out_trade_no": out_trade_no,
               "notify_url": notify_url, "amount": {"total": amount, "currency": currency}}
    try:
        status, data = await provider.call("POST", NATIVE_PATH, payload)
    except (TimeoutError, aiohttp.ClientError, ResponseNotTrusted, ValueError) as err:
        log.warning("wechat native %s: no trusted answer (%s)", out_trade_no, type(err).__name__)
        raise jsapi.PrepayError("TRANSPORT", str(err)[:200], unknown=True) from err
    code_url = data.get("code_url")
    if status == 200 and isinstance(code_url, str) and code_url.startswith("weixin://"):
        return code_url
    code = str(data.get("code") or status)
    raise jsapi.PrepayError(code, str(data.get("message", ""))[:200], unknown=status >= 500)


def _result(row: PaymentRow | None, code_url: str | None = None) -> JsonObject:
    if row is None:  # recorded by this attempt: only a deleted row lands here
        raise RuntimeError("native payment vanished while it was handled")
    status: ChargeStatus = "paid" if row["status"] == PAID else (
        "failed" if row["status"] == FAILED else "unknown")
    zh, en = shopper_message(status, "scan_to_pay" if status == "unknown" else None)
    return NativeResult(
        out_trade_no=row["out_trade_no"], status=status, amount=row["amount"],
        currency=row["currency"], code_url=code_url if status == "unknown" else None,
        provider_ref=row.get("provider_ref") if status == "paid" else None,
        message_zh=zh, message_en=en).model_dump(exclude_none=True)


async def _settle_from_query(svc: PaymentService, provider: WechatPayProvider,
                             row: PaymentRow) -> None:
    out = await provider.query(row["out_trade_no"])
    if out.status == "paid" and out.amount == row["amount"]:
        await svc.store.transition(row["out_trade_no"], (AWAITING,), PAID,
                                   provider_ref=out.provider_ref, provider_code="QUERY")
        log.info("native payment %s settled from the query", row["out_trade_no"])


def _wechat(svc: PaymentService) -> WechatPayProvider:
    provider = svc.providers.get("wechat")
    if not isinstance(provider, WechatPayProvider):
        raise rpc.RpcFailure("method_unavailable", "wechat is not configured")
    return provider


def _notify_url(ctx: rpc.RpcContext) -> str:
    from cloud_bridge.errors import Unavailable
    from cloud_bridge.mp_pay.service import notify_url

    if ctx.config is None:
        raise RuntimeError("the RPC context has no bridge configuration")
    try:
        return notify_url(ctx.config)
    except Unavailable as err:
        raise rpc.RpcFailure("payments_unavailable", str(err)) from None


async def start(svc: PaymentService, ctx: rpc.RpcContext, p: NativeParams) -> JsonObject:
    """The QR of the kiosk's attempt ``p`` (made once), or its outcome once settled."""
    provider = _wechat(svc)
    try:
        created, row = await svc.store.create(
            status=AWAITING, out_trade_no=p.out_trade_no, order_no=p.order_no,
            store=ctx.store, kiosk=ctx.kiosk, method="wechat", amount=p.amount,
            currency=p.currency)
    except PaymentConflict as err:
        raise rpc.RpcFailure("conflict", str(err)) from None
    if (row["amount"], row["currency"], row["method"]) != (p.amount, p.currency, "wechat"):
        raise rpc.RpcFailure("conflict", f"{p.out_trade_no} was made with other terms")
    if row["status"] != AWAITING:
        return _result(row)
    known = row.get("provider_ref") or ""
    if not created and known.startswith("weixin://"):
        await _settle_from_query(svc, provider, row)     # asked again: has the shopper paid?
        return _result(await svc.store.get(p.out_trade_no), code_url=known)
    try:
        code_url = await create_code_url(
            provider, out_trade_no=p.out_trade_no, amount=p.amount, currency=p.currency,
            description=p.description, notify_url=_notify_url(ctx))
    except jsapi.PrepayError as err:
        if err.code == "ORDERPAID":
            await _settle_from_query(svc, provider, row)
            return _result(await svc.store.get(p.out_trade_no))
        if err.unknown:
            raise rpc.RpcFailure("provider_unavailable", "WeChat Pay did not answer") from None
        await svc.store.transition(p.out_trade_no, (AWAITING,), FAILED, reason="rejected",
                                   provider_code=err.code[:64])
        return _result(await svc.store.get(p.out_trade_no))
    if len(code_url) <= CODE_URL_MAX:
        await svc.store.transition(p.out_trade_no, (AWAITING,), AWAITING, provider_ref=code_url,
                                   provider_code="NATIVE")
    log.info("native payment %s of %s/%s: QR ready", p.out_trade_no, ctx.store, ctx.kiosk)
    return _result(await svc.store.get(p.out_trade_no), code_url=code_url)


async def close(svc: PaymentService, ctx: rpc.RpcContext, out_trade_no: str) -> JsonObject:
    """Close the kiosk's unpaid Native attempt at WeChat; its outcome."""
    row = await svc.store.get_own(out_trade_no, ctx.store, ctx.kiosk)
    if row is None:
        raise rpc.RpcFailure("not_found", f"no payment {out_trade_no}")
    if row["status"] != AWAITING:
        return _result(row)
    provider = _wechat(svc)
    outcome = await jsapi.close(provider, out_trade_no)
    if outcome == "paid":
        await _settle_from_query(svc, provider, row)
    elif outcome in ("closed", "not_found"):
        await svc.store.transition(out_trade_no, (AWAITING,), FAILED, reason="closed",
                                   provider_code="CLOSED")
    return _result(await svc.store.get(out_trade_no))


async def close_abandoned(svc: PaymentService | None, timeout_s: float) -> int:
    """Close the Native QRs kiosks left unpaid for ``timeout_s`` (a kiosk that died or lost
    its link never closes its own); how many were closed. Every step is conditional, so
    several workers may run it at once."""
    if svc is None or "wechat" not in svc.providers:
        return 0
    cutoff = utcnow() - timedelta(seconds=timeout_s)
    async with svc.db.read() as s:
        due = (await s.scalars(select(Payment.out_trade_no).where(
            Payment.status == AWAITING, Payment.kiosk.is_not(None), Payment.method == "wechat",
            Payment.created_at < cutoff).order_by(Payment.created_at).limit(200))).all()
    provider, closed = _wechat(svc), 0
    for no in due:
        row = await svc.store.get(no)
        if row is None or row["status"] != AWAITING:
            continue
        outcome = await jsapi.close(provider, no)
        if outcome == "paid":
            await _settle_from_query(svc, provider, row)
        elif outcome in ("closed", "not_found"):
            closed += await svc.store.transition(no, (AWAITING,), FAILED, reason="abandoned",
                                                 provider_code="CLOSED")
    if closed:
        log.info("closed %d native QR payment(s) left unpaid by their kiosks", closed)
    return closed
