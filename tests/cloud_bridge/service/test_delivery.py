"""Delivery tracking against the Kuaidi100 sandbox over HTTP: a shipped order is
subscribed, signed pushes move it on (stored once), a forged push is refused and polling
recovers what a lost push carried, delivery completes the order, trouble and silence
alert the store; shoppers see only their own parcels, staff only their store's."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from cloud_bridge.keys import CONFIG_KEY
from cloud_bridge.models import Alert, Order
from cloud_bridge.service import delivery
from cloud_bridge.service import kuaidi100 as k100
from cloud_bridge.service.models_delivery import Shipment
from cloud_bridge.service.tracking import NOTIFY_PATH, SANDBOX_KEY, tracker_of

from .conftest import A, M

SB = "/sandbox/kuaidi100"


async def _ship(db, order_no: str, openid: str, tracking: str, carrier: str = "SF") -> None:
    async with db.session() as s:
        await s.execute(update(Order).where(Order.order_no == order_no).values(
            openid=openid, fulfillment="delivery", status="shipped", carrier=carrier,
            tracking_no=tracking,
            shipping_address={"name": "张三", "phone": "13800001234", "address": "上海"}))


def _serve_self(client) -> None:
    """The tracker and its callback are this test server (the sandbox is on)."""
    client.app[CONFIG_KEY].http.public_url = str(client.make_url("")).rstrip("/")


async def _advance(client, num, context, state, *, com="shunfeng", **extra):
    r = await client.post(f"{SB}/advance", json={"com": com, "num": num, "context": context,
                                                 "state": state, **extra})
    assert r.status == 200, await r.text()
    return await r.json()


async def _track(client, headers, order_no):
    r = await client.get(f"{M}/orders/{order_no}/tracking", headers=headers)
    return r.status, (await r.json())


async def _alerts(db, kind):
    async with db.session() as s:
        return list((await s.scalars(select(Alert).where(Alert.kind == kind))).all())


async def test_push_poll_delivered_and_refusals(client, people, db):
    _serve_self(client)
    alice, bob = people["alice"], people["bob"]
    await _ship(db, "S1-0", people["alice_openid"], "SF1001")
    tracker = tracker_of(client.app)
    counts = await delivery.sweep(db, tracker, delivery.Settings())
    assert counts["subscribed"] == 1
    assert (await delivery.sweep(db, tracker, delivery.Settings()))["subscribed"] == 0

    status, body = await _track(client, alice, "S1-0")
    assert status == 200 and body["state"] == "created" and body["events"] == []
    out = await _advance(client, "SF1001", "顺丰速运 已收取快件", "1", area="上海市")
    assert out == {"pushed": True, "callback_status": 200}
    status, body = await _track(client, alice, "S1-0")
    assert (body["state"], body["state_zh"]) == ("collected", "已揽收")
    assert [e["context"] for e in body["events"]] == ["顺丰速运 已收取快件"]

    # The same push again (the tracker retries): nothing stored twice.
    p = client.app  # the sandbox's parcel as the tracker holds it
    from cloud_bridge.service.runtime import runtime
    parcel = runtime(p).sandbox_parcels[("shunfeng", "SF1001")]
    param = json.dumps({"status": "polling", "lastResult": {
        "com": "shunfeng", "nu": "SF1001", "state": "1", "data": parcel["events"]}},
        ensure_ascii=False)
    good = k100.md5_upper(param + k100.salt_for(SANDBOX_KEY, "shunfeng", "SF1001"))
    r = await client.post(NOTIFY_PATH, data={"param": param, "sign": good})
    assert r.status == 200 and (await r.json())["returnCode"] == "200"
    assert len((await _track(client, alice, "S1-0"))[1]["events"]) == 1

    # Forged or unsigned pushes change nothing; the salt of one parcel signs no other.
    for form in ({"param": param}, {"param": param, "sign": "0" * 32},
                 {"param": param.replace("SF1001", "SF9999"), "sign": good},
                 {"param": "not json", "sign": good}):
        r = await client.post(NOTIFY_PATH, data=form)
        assert r.status == 400, form
    out = await _advance(client, "SF1001", "快件已到达 上海转运中心", "0", forge=True)
    assert out["callback_status"] == 400
    assert len((await _track(client, alice, "S1-0"))[1]["events"]) == 1
    # A lost or refused push is recovered by polling.
    counts = await delivery.sweep(db, tracker, delivery.Settings(poll_after_s=0))
    assert counts["polled"] == 1
    body = (await _track(client, alice, "S1-0"))[1]
    assert body["state"] == "in_transit" and len(body["events"]) == 2
    assert body["events"][0]["context"] == "快件已到达 上海转运中心"   # newest first

    # Other shoppers and other stores' staff see nothing of it.
    assert (await _track(client, bob, "S1-0"))[0] == 404
    items = (await (await client.get(f"{A}/shipments", headers=people["clerk2"])).json())["items"]
    assert items == []
    r = await client.post(f"{A}/shipments/S1-0/refresh", headers=people["clerk2"])
    assert r.status == 404
    r = await client.post(f"{A}/shipments/S1-0/refresh", headers=people["clerk1"])
    assert r.status == 200 and r.content_type == "application/json"

    await _advance(client, "SF1001", "已签收，签收人：本人", "3")
    body = (await _track(client, alice, "S1-0"))[1]
    assert body["state"] == "delivered" and body["delivered_at"]
    order = await (await client.get("/api/v1/admin/orders/S1-0", headers=people["clerk1"])).json()
    assert order["status"] == "delivered"


async def test_trouble_and_silence_alert_the_store_once(client, people, db):
    _serve_self(client)
    await _ship(db, "S1-1", people["alice_openid"], "YT2002", carrier="YTO")
    await _ship(db, "S1-2", people["alice_openid"], "ZT3003", carrier="ZTO")
    tracker = tracker_of(client.app)
    await delivery.sweep(db, tracker, delivery.Settings())
    await _advance(client, "YT2002", "地址不详，联系不上收件人", "2", com="yuantong")
    await _advance(client, "YT2002", "再次派送失败", "2", com="yuantong")
    trouble = await _alerts(db, "delivery_trouble")
    assert [(a.order_no, a.detail["state"]) for a in trouble] == [("S1-1", "problem")]

    # ZT3003 never moves: after delay_after_h the store hears of it, once per silence.
    async with db.session() as s:
        await s.execute(update(Shipment).where(Shipment.tracking_no == "ZT3003").values(
            created_at=datetime.now(UTC) - timedelta(hours=50)))
    settings = delivery.Settings(delay_after_h=48)
    assert (await delivery.sweep(db, tracker, settings))["delays"] == 1
    assert (await delivery.sweep(db, tracker, settings))["delays"] == 0
    delays = await _alerts(db, "delivery_delay")
    assert [(a.store, a.order_no) for a in delays] == [("s1", "S1-2")]
    r = await client.get("/api/v1/admin/alerts", headers=people["clerk1"])
    kinds = {a["kind"] for a in (await r.json())["items"]}
    assert {"delivery_delay", "delivery_trouble"} <= kinds


async def test_tracker_refuses_what_it_should(client, people):
    """The sandbox is faithful in what it refuses too: a wrong key or signature."""
    _serve_self(client)
    r = await client.post(f"{SB}/poll", data={"schema": "json", "param": json.dumps({
        "company": "shunfeng", "number": "X1", "key": "wrong",
        "parameters": {"callbackurl": "http://x", "salt": "s"}})})
    assert (await r.json())["returnCode"] == "600"
    r = await client.post(f"{SB}/poll/query.do", data={
        "customer": "SANDBOXCUSTOMER", "param": '{"com":"shunfeng","num":"X1"}', "sign": "AA"})
    assert (await r.json())["returnCode"] == "503"
