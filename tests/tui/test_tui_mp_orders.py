"""New mini-program orders reach the store's staff TUI at once, end to end: a shopper pays a
mini-program order through the WeChat sandbox on the real bridge app (MQTT on a real
Mosquitto); the bridge publishes the store's retained list; a REAL agent (built like
``kiosk-agent run``) keeps it; the TUI (screen 8, and a banner on every screen) shows it
until staff acknowledge it with ``k``, which resolves the bridge's alert and clears the
list on the broker. What the kiosk must refuse is checked on the way."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import aiomqtt
import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select
from textual.widgets import DataTable

from cloud_bridge.app import create_app
from cloud_bridge.db import Database
from cloud_bridge.domains import domain_modules
from cloud_bridge.models import Alert
from cloud_bridge.selling import runtime as selling_runtime
from contract.wire.base import decode
from contract.wire.mp_orders import MpOrderAlertItem, MpOrderAlerts
from contract.wire.topics import store_mp_orders
from tests.cloud_bridge.mp_pay.test_pay import NOTIFY, place_order, shopper_pays
from tests.cloud_bridge.test_api import api_config, mp_login
from tests.cloud_bridge.test_payments_api import payments_config
from tests.tui.conftest import DEMO_PRICE_BOOK
from tests.tui.test_tui import REFRESH_S, enter_pin, plain
from tests.tui.test_tui_agent import wait_for
from tui.app import KioskTUI
from tui.client import ControlClient, ControlError

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
async def bridge(tmp_path, broker, sandbox, monkeypatch):
    """The bridge app (HTTP + MQTT on the test broker, WeChat from the sandbox)."""
    monkeypatch.setattr(selling_runtime, "PUSH_INTERVAL_S", 0.2)
    domain_modules("models")  # every domain's tables on Base (the app imports them too)
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'bridge.db'}")
    await db.create_all()
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(sandbox.manifest))
    cfg = api_config(f"sqlite+aiosqlite:///{tmp_path / 'bridge.db'}")
    cfg.payments = payments_config(cfg.database.url, manifest).payments.model_copy(
        update={"mp_close_interval_s": 0})
    cfg.mqtt.enabled, cfg.mqtt.port, cfg.mqtt.username = True, broker.port, ""
    cfg.mqtt.reconnect_min_s, cfg.mqtt.session_expiry_s = 0.1, 0
    cfg.bridge.worker_id = "mp-orders"
    cfg.rpc.handler_modules = ["cloud_bridge.selling.rpc_handlers"]
    server = TestServer(create_app(cfg, db=db))
    client = TestClient(server)
    await client.start_server()
    cfg.mp.code2session_url = str(server.make_url("/sandbox/sns/jscode2session"))
    cfg.payments.jsapi_notify_url = str(server.make_url(NOTIFY))
    client.db = db
    try:
        yield client
    finally:
        await client.close()
        await db.close()


@pytest.fixture
async def mqtt_agent(tmp_path, sock_dir, staff_pin_hash, broker, monkeypatch):
    """A real Agent of store s1 (kiosk k1) with its MQTT link on the test broker."""
    from kiosk_agent.agent import build_agent
    from kiosk_agent.config import AgentConfig

    for name in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "CREDENTIALS_DIRECTORY"):
        monkeypatch.delenv(name, raising=False)
    cfg = AgentConfig.model_validate({
        "kiosk": {"store_id": "s1", "kiosk_id": "k1"},
        "journal": {"path": str(tmp_path / "journal.db"),
                    "seed_price_book": str(DEMO_PRICE_BOOK)},
        "mqtt": {"host": "127.0.0.1", "port": broker.port},
        "camera": {"kind": "none"}, "display": {"kind": "none"}, "printer": {"kind": "none"},
        "control": {"socket_path": str(sock_dir / "agent.sock"), "socket_group": None,
                    "staff_pin_hash": staff_pin_hash},
    })
    agent = build_agent(cfg)
    task = asyncio.create_task(agent.run())
    try:
        await asyncio.wait_for(agent.started.wait(), 10)
        await asyncio.wait_for(agent.runtime.link.connected.wait(), 10)
        yield agent
    finally:
        agent.stop()
        await asyncio.wait_for(task, 15)


async def paid_order(bridge, sandbox, code: str) -> str:
    """A shopper orders in the mini-program and pays with WeChat (the sandbox)."""
    headers, openid = await mp_login(bridge, code)
    order = await place_order(bridge, headers)
    r = await bridge.post(f"/api/v1/mp/orders/{order['order_no']}/pay", headers=headers)
    assert r.status == 200, await r.text()
    status, paid = await shopper_pays(sandbox, await r.json(), openid)
    assert status == 200 and paid["notify_status"] == 204
    return order["order_no"]


def rows(app) -> list[str]:
    table = app.screen.query_one("#mp-orders", DataTable)
    return [" ".join(str(c) for c in table.get_row_at(i)) for i in range(table.row_count)]


async def retained(port: int) -> MpOrderAlerts:
    async with aiomqtt.Client("127.0.0.1", port) as c:
        await c.subscribe(store_mp_orders("s1"), qos=1)
        async for msg in c.messages:
            return decode(MpOrderAlerts, msg.payload)
    raise AssertionError("no retained list")


async def open_alerts(db) -> list[Alert]:
    async with db.session() as s:
        return list((await s.scalars(select(Alert).where(Alert.kind == "mp_order")
                                     .order_by(Alert.id))).all())


async def test_new_orders_reach_the_staff_tui_until_acknowledged(bridge, sandbox, mqtt_agent,
                                                                 broker):
    agent = mqtt_agent
    sock = str(agent.config.control.socket_path)
    app = KioskTUI(sock, refresh_s=REFRESH_S)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("8")
        await wait_for(pilot, lambda: "尚未收到" in plain(app, "#mp-summary"), "none yet")
        first = await paid_order(bridge, sandbox, "alice-code")
        second = await paid_order(bridge, sandbox, "bob-code")
        await wait_for(pilot, lambda: len(rows(app)) == 2, "both orders on screen 8")
        assert first in rows(app)[0] and second in rows(app)[1]  # the oldest first
        assert "自提" in rows(app)[0] and "¥5.00" in rows(app)[0]
        assert "2 个新订单待处理" in plain(app, "#mp-summary")
        # Every other screen says so in its status bar.
        await pilot.press("1")
        await wait_for(pilot, lambda: "小程序新订单 2" in plain(app, "#statusbar"), "banner")

        # What the kiosk refuses: no staff session; an order that is not one of the store's
        # open ones (another store's alert, an unknown id).
        async with bridge.db.session() as s:
            other = Alert(kind="mp_order", store="s2", order_no="S2-MP-1",
                          detail={"fulfillment": "pickup", "total": 100})
            s.add(other)
            await s.flush()
            other_id = other.id
        async with ControlClient(sock) as tui:
            ids = [item["id"] for item in (await tui.mp_orders())["items"]]
            with pytest.raises(ControlError) as err:
                await tui.ack_mp_order(ids[0])
            assert err.value.status == 401
            await tui.login("2468")
            for alert_id in (other_id, 999999):
                with pytest.raises(ControlError) as err:
                    await tui.ack_mp_order(alert_id)
                assert (err.value.status, err.value.code) == (404, "not_found")
        assert [a.resolved for a in await open_alerts(bridge.db)] == [False, False, False]

        # Messages the kiosk must not take: another store's list on this store's topic, a
        # malformed payload, a list older than the one it shows.
        async with aiomqtt.Client("127.0.0.1", broker.port) as rogue:
            later = datetime.now(UTC) + timedelta(days=1)
            foreign = MpOrderAlerts(store="s2", as_of=later, items=[MpOrderAlertItem(
                id=99, order_no="FOREIGN", fulfillment="pickup", total=1, since=later)])
            for payload in (foreign.encode(), b'{"store": "s1", "items": "bad"}',
                            MpOrderAlerts(store="s1", as_of=datetime(2001, 1, 1,
                                                                     tzinfo=UTC)).encode()):
                await rogue.publish(store_mp_orders("s1"), payload, qos=1, retain=True)
        await pilot.press("8")
        await wait_for(pilot, lambda: len(rows(app)) == 2, "the list unchanged")
        assert not any("FOREIGN" in r for r in rows(app))

        # Staff take the first order on: k (the PIN first), it leaves the list everywhere.
        await pilot.press("k")
        await enter_pin(pilot)
        await wait_for(pilot, lambda: len(rows(app)) == 1, "one order left")
        assert second in rows(app)[0]
        alerts = await open_alerts(bridge.db)
        assert [(a.order_no, a.resolved) for a in alerts[:2]] == [(first, True), (second, False)]
        assert alerts[0].detail["acknowledged_by"] == "k1:kiosk-tui"
        assert [i.order_no for i in (await retained(broker.port)).items] == [second]
        await pilot.press("k")
        await wait_for(pilot, lambda: "暂无新的小程序订单" in plain(app, "#mp-summary"),
                       "nothing left")
        assert (await retained(broker.port)).items == []
        await pilot.press("1")
        await wait_for(pilot, lambda: "小程序新订单" not in plain(app, "#statusbar"),
                       "the banner gone")
        await pilot.press("8", "l")
        await wait_for(pilot, lambda: "no new mini-program orders" in plain(app, "#mp-summary"),
                       "English")
