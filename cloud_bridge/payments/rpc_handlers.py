"""``payment.charge``, ``payment.status`` and ``payment.settle`` on the bridge's RPC registry
(and ``payment.native``/``payment.native.close``, :mod:`.native`).

The service comes from the bridge's shared services (``ctx.services.payments``, built
by :mod:`.runtime` from ``[payments]``); when absent it is built once from the
context's config (``$CLOUD_BRIDGE_PAYMENTS`` still overrides the manifest there).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, TypeVar

from pydantic import BaseModel, ValidationError

from cloud_bridge import rpc
from common.jsontypes import JsonMapping, JsonObject
from contract.wire import rpc as wire_rpc
from contract.wire.base import validation_reason
from contract.wire.payments import ChargeParams, NativeParams, SettleParams, StatusParams

from . import native
from .models import AWAITING
from .service import REPLY_MARGIN_S, PaymentService

if TYPE_CHECKING:
    from cloud_bridge.config import BridgeConfig
    from cloud_bridge.security.member_sales import MemberSaleCheck

log = logging.getLogger(__name__)

P = TypeVar("P", bound=BaseModel)


def service_for(ctx: rpc.RpcContext) -> PaymentService:
    """The payment service the bridge built at start-up (:mod:`.runtime`), never per request."""
    svc = ctx.services.payments if ctx.services is not None else None
    if svc is None:
        raise rpc.RpcFailure("payments_unavailable", "支付暂不可用 / payments are not configured")
    return svc


def _parse(model: type[P], params: JsonMapping) -> P:
    try:
        return model.model_validate(params)
    except ValidationError as err:
        raise rpc.RpcFailure("bad_params", validation_reason(err)) from None


def _budget(ctx: rpc.RpcContext) -> float:
    return max(0.5, ctx.seconds_left() - REPLY_MARGIN_S)


def _service_with(ctx: rpc.RpcContext, method: str) -> PaymentService:
    """The payment service, refusing a method it has no provider for."""
    svc = service_for(ctx)
    if method not in svc.providers:
        raise rpc.RpcFailure("method_unavailable", f"{method} is not configured")
    return svc


# The member-code check of each bridge config (built once: it reads the member key).
_MEMBER_CHECKS: dict[int, tuple[BridgeConfig, MemberSaleCheck | None]] = {}


def _check_member_code(ctx: rpc.RpcContext, p: ChargeParams) -> None:
    """Stored value is spent only with the member's own code (issue 21): a kiosk's
    credentials alone must not spend any member's balance. Without a member key the
    bridge issues no codes and cannot check (logged once by the check's builder)."""
    from cloud_bridge.security.member_sales import MemberSaleCheck

    if ctx.config is None:
        return
    cached = _MEMBER_CHECKS.get(id(ctx.config))
    if cached is None or cached[0] is not ctx.config:
        cached = _MEMBER_CHECKS[id(ctx.config)] = (ctx.config,
                                                   MemberSaleCheck.from_config(ctx.config))
    check = cached[1]
    if check is None:
        return
    problem = check.charge_problem(p.member_code, p.member_id)
    if problem is not None:
        log.warning("stored value %s from %s/%s refused: member %s (%s)", p.out_trade_no,
                    ctx.store, ctx.kiosk, p.member_id, problem.reason)
        raise rpc.RpcFailure("member_code_refused",
                             f"会员码无效，请刷新会员码 / member code not accepted: {problem.reason}")


async def charge(ctx: rpc.RpcContext, params: JsonObject) -> JsonObject:
    p = _parse(ChargeParams, params)
    if p.method == "stored_value":
        _check_member_code(ctx, p)
    return await _service_with(ctx, p.method).charge(ctx.store, ctx.kiosk, p, _budget(ctx))


async def status(ctx: rpc.RpcContext, params: JsonObject) -> JsonObject:
    p = _parse(StatusParams, params)
    # Only the calling kiosk's own attempts: kiosk ids repeat across stores (issue 11).
    res = await service_for(ctx).status(p.out_trade_no, ctx.store, ctx.kiosk)
    if res is None:
        raise rpc.RpcFailure("not_found", f"no payment {p.out_trade_no}")
    return res


async def settle(ctx: rpc.RpcContext, params: JsonObject) -> JsonObject:
    p = _parse(SettleParams, params)
    svc = _service_with(ctx, p.method)
    own = await svc.store.get_own(p.out_trade_no, ctx.store, ctx.kiosk)
    if own is not None and own["status"] == AWAITING:
        # The kiosk gave up on its Native QR (no answer, link lost, a restart): closed at
        # WeChat, so it is paid once (found paid) or not at all; never left payable.
        await native.close(svc, ctx, p.out_trade_no)
        return svc.result(await svc.store.get(p.out_trade_no) or own)
    return await svc.settle(ctx.store, ctx.kiosk, p, _budget(ctx))


async def native_pay(ctx: rpc.RpcContext, params: JsonObject) -> JsonObject:
    """Native QR (扫码支付) of a kiosk sale: the QR, or the outcome when asked again."""
    return await native.start(service_for(ctx), ctx, _parse(NativeParams, params))


async def native_close(ctx: rpc.RpcContext, params: JsonObject) -> JsonObject:
    p = _parse(StatusParams, params)
    return await native.close(service_for(ctx), ctx, p.out_trade_no)


def register() -> None:
    rpc.register(wire_rpc.PAYMENT_CHARGE, charge, replace=True)
    rpc.register(wire_rpc.PAYMENT_STATUS, status, replace=True)
    rpc.register(wire_rpc.PAYMENT_SETTLE, settle, replace=True)
    rpc.register(wire_rpc.PAYMENT_NATIVE, native_pay, replace=True)
    rpc.register(wire_rpc.PAYMENT_NATIVE_CLOSE, native_close, replace=True)


register()
