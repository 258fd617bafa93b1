"""Routes of delivery tracking: the tracker's signed push, the shopper's tracking page,
the store's shipments; and, with ``[mp] sandbox``, a local fake of Kuaidi100 that speaks
its subscribe/query/push protocol (``/sandbox/kuaidi100/...``)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Literal

import aiohttp
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge.db import get_row
from cloud_bridge.errors import InvalidRequest, NotFound, Unavailable
from cloud_bridge.models import Order
from cloud_bridge.openapi import Call, QueryModel, RequestModel, Route, ShortText, Text
from common.jsontypes import JsonObject

from . import delivery, schemas
from . import kuaidi100 as k100
from .api_common import TAG, A, M, db
from .models_delivery import Shipment, ShipmentEvent
from .runtime import runtime
from .tracking import (
    NOTIFY_PATH,
    SANDBOX_CUSTOMER,
    SANDBOX_KEY,
    SANDBOX_PATH,
    SandboxParcel,
    account_key,
    tracker_of,
)

log = logging.getLogger(__name__)

FORM = ("application/x-www-form-urlencoded", {"type": "object", "properties": {
    "param": {"type": "string"}, "sign": {"type": "string"}}})
ACK = {"result": True, "returnCode": "200", "message": "成功"}


async def carrier_notify(call: Call) -> JsonObject:
    """Kuaidi100's push: verified by its signature, stored once, state followed."""
    key = account_key(call.app)
    if key is None:
        raise NotFound("carrier tracking is not configured")
    form = await call.request.post()
    param, sign = form.get("param"), form.get("sign")
    if not isinstance(param, str) or not isinstance(sign, str) or len(param) > 200_000:
        raise InvalidRequest("a push needs param and sign")
    try:
        last = k100.verify_push(param, sign, key)
    except ValueError as err:
        log.warning("carrier push refused from %s: %s", call.request.remote, err)
        raise InvalidRequest(f"push refused: {err}") from err
    state, tracks = k100.parse_tracks(last)

    async def work(s: AsyncSession) -> JsonObject:
        ship = await s.scalar(select(Shipment).where(
            Shipment.com == str(last["com"]), Shipment.tracking_no == str(last["nu"]))
            .with_for_update())
        if ship is None:
            raise NotFound(f"no shipment {last['com']} {last['nu']}")
        await delivery.apply(s, ship, state, tracks, source="push")
        return ACK

    return await db(call).transact(work)


async def _events(s: AsyncSession, ship: Shipment) -> list[ShipmentEvent]:
    return list((await s.scalars(select(ShipmentEvent)
                                 .where(ShipmentEvent.shipment_id == ship.id))).all())


async def my_tracking(call: Call) -> JsonObject:
    """Where my delivery order is: the carrier's events, newest first."""
    from cloud_bridge import orders

    async with db(call).read() as s:
        order = await orders.get_order(s, call.path["order_no"])
        if order.openid != call.openid:
            raise NotFound(f"order {call.path['order_no']} not found")
        ship = await s.scalar(select(Shipment).where(Shipment.order_no == order.order_no))
        if ship is None:
            if not (order.fulfillment == "delivery" and order.tracking_no):
                raise NotFound(f"order {order.order_no} has not been shipped")
            # Shipped a moment ago: the tracker has not been asked yet.
            ship = Shipment(order_no=order.order_no, carrier=order.carrier or "",
                            tracking_no=order.tracking_no, state="created")
            return delivery.shipment_json(ship, [])
        return delivery.shipment_json(ship, await _events(s, ship))


class ShipmentsQuery(QueryModel):
    store: ShortText | None = None
    state: ShortText | None = None


async def list_shipments(call: Call) -> JsonObject:
    """Shipments of the caller's store (head office: any or all), newest first."""
    q = call.query_as(ShipmentsQuery)
    store = call.principal.store_scope(q.store)
    stmt = select(Shipment).order_by(Shipment.id.desc()).limit(500)
    if store is not None:
        stmt = stmt.where(Shipment.store == store)
    if q.state:
        stmt = stmt.where(Shipment.state == q.state)
    async with db(call).read() as s:
        rows = (await s.scalars(stmt)).all()
        return {"items": [delivery.shipment_json(x, await _events(s, x)) for x in rows]}


async def refresh(call: Call) -> JsonObject:
    """Ask the tracker now (staff on the phone with a shopper); an order shipped a moment
    ago gets its shipment and subscription here rather than at the next sweep."""
    tracker = tracker_of(call.app)
    if tracker is None:
        raise Unavailable("carrier tracking is not configured")
    no = call.path["order_no"]
    async with db(call).session() as s:
        store = await s.scalar(select(Order.store).where(Order.order_no == no))
        if store is None or not (call.principal.chain_wide or store == call.principal.store):
            raise NotFound(f"no shipment for order {no}")   # checked before anything is made
        await delivery.new_shipments(s, no)
        ship = await s.scalar(select(Shipment).where(Shipment.order_no == no))
        if ship is None:
            raise NotFound(f"no shipment for order {no}")
        ship_id, com, num, subscribed = ship.id, ship.com, ship.tracking_no, ship.subscribed
    try:
        if not subscribed:
            await tracker.subscribe(com, num)
            async with db(call).session() as s:
                (await get_row(s, Shipment, ship_id)).subscribed = True
        answer = await tracker.query(com, num)
    except (RuntimeError, aiohttp.ClientError, TimeoutError) as err:
        log.warning("tracking query %s %s failed: %s", com, num, err)
        raise Unavailable("the carrier tracker did not answer") from err
    state, tracks = k100.parse_tracks(answer)
    async with db(call).session() as s:
        ship = await s.get(Shipment, ship_id, with_for_update=True)
        if ship is None:
            raise NotFound(f"no shipment for order {no}")
        await delivery.apply(s, ship, state, tracks, source="refresh")
        return delivery.shipment_json(ship, await _events(s, ship))


# ------------------------------------------------------------------ the sandbox


def _parcels(call: Call) -> dict[tuple[str, str], SandboxParcel]:
    return runtime(call.app).sandbox_parcels


def _answer(p: SandboxParcel) -> JsonObject:
    return {"message": "ok", "nu": p["num"], "ischeck": "1" if p["state"] == "3" else "0",
            "com": p["com"], "status": "200", "state": p["state"], "condition": "00",
            "data": list(reversed(p["events"]))}


async def sandbox_subscribe(call: Call) -> JsonObject:
    """Fake of Kuaidi100 ``/poll``: subscribe a number with a callback and salt."""
    form = await call.request.post()
    try:
        param = json.loads(str(form.get("param")))
        com, num, key = str(param["company"]), str(param["number"]), param["key"]
        callback, salt = param["parameters"]["callbackurl"], param["parameters"]["salt"]
    except (ValueError, KeyError, TypeError):
        return {"result": False, "returnCode": "700", "message": "参数错误"}
    if key != SANDBOX_KEY:
        return {"result": False, "returnCode": "600", "message": "您不是合法的订阅者"}
    if not isinstance(callback, str) or not isinstance(salt, str):  # what a push needs
        return {"result": False, "returnCode": "700", "message": "参数错误"}
    parcels = _parcels(call)
    p = parcels.setdefault((com, num), {"com": com, "num": num, "state": "0", "events": []})
    if p.get("callback"):
        return {"result": False, "returnCode": "501", "message": "重复订阅"}
    p["callback"], p["salt"] = callback, salt
    return {"result": True, "returnCode": "200", "message": "提交成功"}


async def sandbox_query(call: Call) -> JsonObject:
    """Fake of Kuaidi100 ``/poll/query.do`` (signed ``MD5(param + key + customer)``)."""
    form = await call.request.post()
    param, sign, customer = (str(form.get(k, "")) for k in ("param", "sign", "customer"))
    if customer != SANDBOX_CUSTOMER or sign != k100.md5_upper(param + SANDBOX_KEY + customer):
        return {"result": False, "returnCode": "503", "message": "验证签名失败"}
    try:
        q = json.loads(param)
        p = _parcels(call).get((str(q["com"]), str(q["num"])))
    except (ValueError, KeyError, TypeError):
        return {"result": False, "returnCode": "400", "message": "找不到对应公司"}
    if p is None or not p["events"]:
        return {"result": False, "returnCode": "500", "message": "查询无结果，请隔段时间再查"}
    return _answer(p)


class AdvanceBody(RequestModel):
    com: ShortText
    num: ShortText
    context: Text
    state: Literal["0", "1", "2", "3", "4", "5", "6", "7", "8", "14"]
    area: ShortText | None = None
    time: datetime | None = None
    push: bool = True
    forge: bool = Field(default=False, description="sign with a wrong salt (tests)")


async def sandbox_advance(call: Call) -> JsonObject:
    """Drive the fake: the parcel moves on (an event), pushed to the subscriber when asked."""
    b = call.body_as(AdvanceBody)
    p = _parcels(call).setdefault((b.com, b.num), {"com": b.com, "num": b.num, "state": "0",
                                                   "events": []})
    at = (b.time or datetime.now(UTC)).astimezone(k100.CN).strftime("%Y-%m-%d %H:%M:%S")
    p["events"].append({"time": at, "ftime": at, "context": b.context, "areaName": b.area,
                        "status": k100.STATES[b.state][1]})
    p["state"] = b.state
    status = None
    callback = p.get("callback")
    if b.push and callback:
        param = json.dumps({"status": "polling", "message": "",
                            "lastResult": _answer(p)}, ensure_ascii=False)
        salt = "forged" if b.forge else p.get("salt", "")
        form = {"param": param, "sign": k100.md5_upper(param + salt)}
        try:
            async with aiohttp.ClientSession() as http, \
                    http.post(callback, data=form) as r:
                status = r.status
        except (aiohttp.ClientError, OSError) as err:   # the subscriber is down: a lost push
            log.warning("sandbox push to %s failed: %s", callback, err)
    return {"pushed": status is not None, "callback_status": status}


ROUTES = [
    Route("POST", NOTIFY_PATH, carrier_notify, "Kuaidi100 tracking push (signed)", TAG,
          raw_body=FORM, response=schemas.SvcCarrierAck,
          responses={400: "unsigned, forged or unreadable push", 404: "unknown shipment"}),
    Route("GET", f"{M}/orders/{{order_no}}/tracking", my_tracking, "Track my delivery", TAG,
          auth="mp", path_params={"order_no": {"type": "string", "maxLength": 64}},
          response=schemas.SvcShipment),
    Route("GET", f"{A}/shipments", list_shipments, "Shipments and their tracking", TAG,
          auth="admin", query=ShipmentsQuery, response=schemas.SvcShipmentList),
    Route("POST", f"{A}/shipments/{{order_no}}/refresh", refresh, "Ask the tracker now", TAG,
          auth="admin", path_params={"order_no": {"type": "string", "maxLength": 64}},
          response=schemas.SvcShipment, responses={503: "tracker not configured or down"}),
]
SANDBOX_ROUTES = [
    Route("POST", f"{SANDBOX_PATH}/poll", sandbox_subscribe, "Sandbox Kuaidi100 subscribe",
          "sandbox", raw_body=FORM, response=schemas.SvcCarrierAck),
    Route("POST", f"{SANDBOX_PATH}/poll/query.do", sandbox_query, "Sandbox Kuaidi100 query",
          "sandbox", raw_body=FORM, response={"type": "object"}),
    Route("POST", f"{SANDBOX_PATH}/advance", sandbox_advance, "Sandbox: a parcel moves on",
          "sandbox", body=AdvanceBody, response=schemas.SvcSandboxAdvance),
]
