"""The bridge pushes each store's open stock alerts to its kiosks (retained, per store).

A real bridge app (its supply runtime loop, the push interval shrunk) on the test broker:
a subscriber in a kiosk's place receives the list, then the list without the alert a
clerk resolved through the admin API.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import aiohttp
import aiomqtt
import pytest
from aiohttp import web

from cloud_bridge import auth, inventory
from cloud_bridge.app import create_app
from cloud_bridge.config import BridgeConfig
from cloud_bridge.supply import alerts, push, runtime, service
from contract.wire.base import decode
from contract.wire.stock import StockAlerts
from contract.wire.topics import store_stock_alerts
from tests.support.sockets import bound_socket, port_of
from tests.support.waiting import until

from .helpers import TODAY

WAIT_S = 10.0


async def _alerts_in(db, store="s1") -> None:
    """s1: milk sold out, a lot of bread expiring tomorrow (two open alerts)."""
    async with db.session() as s:
        await inventory.set_on_hand(s, store, "milk", 0)
        await service.receive_into_lot(s, store=store, product_id="bread", lot_no="B1",
                                       expiry_date=TODAY + timedelta(days=1), qty=4,
                                       kind="receipt", doc_type="receipt", doc_id="GR",
                                       actor="t")
        await alerts.scan_stock_alerts(s, store, TODAY)


async def test_snapshot_is_the_same_bytes_from_any_worker_most_urgent_first(db, monkeypatch):
    await _alerts_in(db)
    async with db.session() as s:
        one, two = await push.snapshot(s, "s1"), await push.snapshot(s, "s1")
        empty = await push.snapshot(s, "s9")
    assert empty.store == "s9" and empty.items == [] and empty.more == 0
    assert one.encode() == two.encode()
    assert [(i.kind, i.product_id) for i in one.items] == [("stockout", "milk"),
                                                          ("near_expiry", "bread")]
    assert one.items[1].lot_no == "B1" and one.items[1].days_left == 1
    monkeypatch.setattr(push, "MAX_STOCK_ALERTS", 1)
    async with db.session() as s:
        capped = await push.snapshot(s, "s1")
    assert [i.kind for i in capped.items] == ["stockout"] and capped.more == 1


@pytest.fixture
async def bridge(db, broker, monkeypatch):
    """A bridge app on a free port with MQTT on the test broker and a clerk of s1."""
    monkeypatch.setattr(runtime, "PUSH_INTERVAL_S", 0.05)
    async with db.session() as s:
        await auth.create_admin_user(s, "clerk", "secret-clerk", auth.STORE_STAFF, "s1")
    sock = bound_socket()  # held until the site listens on it: no other bind can take it
    port = port_of(sock)
    cfg = BridgeConfig()
    cfg.bridge.worker_id = f"push-{port}"
    cfg.mqtt.port = broker.port
    cfg.mqtt.username = ""
    cfg.mqtt.reconnect_min_s = 0.1
    cfg.mqtt.session_expiry_s = 0
    cfg.http.public_url = f"http://127.0.0.1:{port}"
    cfg.rpc.handler_modules = []
    runner = web.AppRunner(create_app(cfg, db=db))
    await runner.setup()
    await web.SockSite(runner, sock).start()
    try:
        async with aiohttp.ClientSession(base_url=cfg.http.public_url) as http:
            async with http.post("/api/v1/admin/session",
                                 json={"username": "clerk", "secret": "secret-clerk"}) as r:
                assert r.status == 200, await r.text()
                token = (await r.json())["token"]
            yield http, {"Authorization": "Bearer " + token}
    finally:
        await runner.cleanup()


async def test_the_bridge_pushes_the_list_and_its_changes_to_the_stores_kiosks(
        db, broker, bridge):
    http, clerk = bridge
    got: list[StockAlerts] = []
    async with aiomqtt.Client("127.0.0.1", broker.port, identifier="kiosk-s1") as kiosk:
        await kiosk.subscribe(store_stock_alerts("s1"), qos=1)
        await kiosk.subscribe(store_stock_alerts("s2"), qos=1)

        async def listen() -> None:
            async for msg in kiosk.messages:
                got.append(decode(StockAlerts, msg.payload))

        task = asyncio.create_task(listen())
        try:
            await _alerts_in(db)
            await until(lambda: any(len(a.items) == 2 for a in got), WAIT_S,
                        what="the store's two alerts")
            milk = next(i for a in got for i in a.items if i.kind == "stockout")
            r = await http.post(f"/api/v1/admin/supply/alerts/{milk.id}/state", headers=clerk,
                                json={"state": "resolved"})
            assert r.status == 200, await r.text()
            await until(lambda: [i.kind for i in got[-1].items] == ["near_expiry"], WAIT_S,
                        what="the list without the resolved alert")
        finally:
            task.cancel()
    assert {a.store for a in got} == {"s1"}  # store s2 has no alerts: nothing sent
    assert got[-1].as_of > got[0].as_of
