"""Kiosk RPCs of the selling domain: ``parked.take`` (a kiosk takes over a parked cart of
its own store; :func:`.parked.take_at_kiosk`) and ``mp_order.ack`` (staff at a kiosk
acknowledged a new mini-program order of the store; :func:`.mp_orders.acknowledge`). The
store is the calling kiosk's, from its topic: another store's is simply not found."""

from __future__ import annotations

import logging
import re

import aiomqtt
from pydantic import ValidationError

from cloud_bridge import rpc
from cloud_bridge.errors import Conflict, NotFound
from common.jsontypes import JsonObject
from contract.wire import rpc as wire_rpc
from contract.wire.base import validation_reason
from contract.wire.mp_orders import MpOrderAckParams

from . import mp_orders
from .parked import ParkedCart, take_at_kiosk

log = logging.getLogger(__name__)

_PARK_NO = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


async def take(ctx: rpc.RpcContext, params: JsonObject) -> ParkedCart:
    park_no = params.get("park_no")
    if not isinstance(park_no, str) or not _PARK_NO.match(park_no):
        raise rpc.RpcFailure(rpc.BAD_REQUEST, "park_no must be a park number")
    if ctx.db is None:
        raise rpc.RpcFailure(rpc.INTERNAL, "no database")
    try:
        async with ctx.db.session() as s:
            return await take_at_kiosk(s, ctx.store, ctx.kiosk, park_no)
    except NotFound as err:
        raise rpc.RpcFailure("not_found", str(err.detail if hasattr(err, "detail") else err)) \
            from None
    except Conflict as err:
        raise rpc.RpcFailure("already_settled",
                             str(err.detail if hasattr(err, "detail") else err)) from None


async def ack_mp_order(ctx: rpc.RpcContext, params: JsonObject) -> mp_orders.Acknowledged:
    """Resolve the store's new-order alert; the store's kiosks get the shorter list at once."""
    try:
        p = MpOrderAckParams.model_validate(params)
    except ValidationError as err:
        raise rpc.RpcFailure(rpc.BAD_REQUEST, validation_reason(err)) from None
    if ctx.db is None:
        raise rpc.RpcFailure(rpc.INTERNAL, "no database")
    try:
        async with ctx.db.session() as s:
            out = await mp_orders.acknowledge(s, ctx.store, ctx.kiosk, p.alert_id, p.by)
    except mp_orders.NotTheStores as err:
        raise rpc.RpcFailure("not_found", str(err)) from None
    if ctx.publish is not None and not out["already"]:
        try:
            await mp_orders.publish_store(ctx.db, ctx.publish, ctx.store)
        except (aiomqtt.MqttError, OSError) as err:  # resolved anyway: the push loop sends it
            log.warning("mini-program orders of %s not published now: %s", ctx.store, err)
    return out


def register() -> None:
    rpc.register(wire_rpc.PARKED_TAKE, take, replace=True)
    rpc.register(wire_rpc.MP_ORDER_ACK, ack_mp_order, replace=True)


register()
