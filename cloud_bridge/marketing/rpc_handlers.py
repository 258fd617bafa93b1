"""Kiosk RPCs of the marketing domain (:mod:`.kiosk`).

``coupon.reserve`` ``{code, order_no, member_id}``: the kiosk locks the coupon a shopper
showed (its coupon code) to its order; the reply is the coupon as the pricing engine
applies it. Refused (``code``): ``coupon_code_*`` (forged, expired, another store's),
``coupon_not_yours`` (the cart's member does not hold it), ``coupon_unavailable`` (used,
expired, locked to another order), ``not_found``.
``coupon.release`` ``{order_no}``: the coupons still locked to the kiosk's order go back.

The store and kiosk are the caller's, from its topic; an order number is taken as the
kiosk's own (:func:`contract.numbers.cloud_order_no`), so a kiosk can neither lock for
nor release another kiosk's order.
"""

from __future__ import annotations

import re

from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge import rpc
from cloud_bridge.errors import Conflict, NotFound, Unavailable
from common.jsontypes import JsonMapping, JsonObject
from contract.coupon_codes import priced_instance
from contract.numbers import NumberError, cloud_order_no
from contract.wire import rpc as wire_rpc

from . import service
from .kiosk import CouponCodes, CouponProblem, definition_of

_ORDER_NO = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_MEMBER = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


def _order_no(ctx: rpc.RpcContext, params: JsonMapping) -> str:
    no = params.get("order_no")
    if not isinstance(no, str) or not _ORDER_NO.match(no):
        raise rpc.RpcFailure(rpc.BAD_REQUEST, "order_no must be an order number")
    try:
        return cloud_order_no(ctx.store, ctx.kiosk, no)
    except NumberError as err:
        raise rpc.RpcFailure(rpc.BAD_REQUEST, str(err)) from None


def _codes(ctx: rpc.RpcContext) -> CouponCodes:
    from ..members.member_code import signing_key

    if ctx.config is None or ctx.db is None:
        raise rpc.RpcFailure(rpc.INTERNAL, "no database")
    try:
        return CouponCodes([signing_key(ctx.config).public_key()])
    except Unavailable:
        raise rpc.RpcFailure("coupon_no_key", "coupons are not set up here") from None


async def reserve(ctx: rpc.RpcContext, params: JsonObject) -> JsonObject:
    code, member_id = params.get("code"), params.get("member_id")
    if not isinstance(code, str) or not 0 < len(code) <= 1024:
        raise rpc.RpcFailure(rpc.BAD_REQUEST, "code must be a coupon code")
    if not isinstance(member_id, str) or not _MEMBER.match(member_id):
        raise rpc.RpcFailure("coupon_not_yours", "a coupon needs the member's code first")
    order_no = _order_no(ctx, params)
    found = _codes(ctx).verify(code, ctx.store)
    if isinstance(found, CouponProblem):
        raise rpc.RpcFailure(f"coupon_{found.reason}", found.detail)
    tok, claim = found
    if claim.owner != member_id:
        raise rpc.RpcFailure("coupon_not_yours", "this coupon belongs to another member")
    assert ctx.db is not None

    async def work(s: AsyncSession) -> JsonObject:
        c = await service.lock(s, tok.subject, claim.owner, order_no)
        t = await service.get_template(s, c.template_id)
        priced = priced_instance(definition_of(t), c.id, claim)
        return {"coupon_id": c.id, "coupon": priced.model_dump(mode="json")}

    try:
        return await ctx.db.transact(work)
    except NotFound:
        raise rpc.RpcFailure("not_found", "no such coupon") from None
    except Conflict as err:
        raise rpc.RpcFailure("coupon_unavailable",
                             str(getattr(err, "detail", None) or err)) from None


async def release(ctx: rpc.RpcContext, params: JsonObject) -> JsonObject:
    from .kiosk import release_order

    order_no = _order_no(ctx, params)
    if ctx.db is None:
        raise rpc.RpcFailure(rpc.INTERNAL, "no database")

    async def work(s: AsyncSession) -> int:
        return await release_order(s, order_no)

    return {"released": await ctx.db.transact(work)}


def register() -> None:
    rpc.register(wire_rpc.COUPON_RESERVE, reserve, replace=True)
    rpc.register(wire_rpc.COUPON_RELEASE, release, replace=True)


register()
