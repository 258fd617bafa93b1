"""Stock alerts from the cloud to the staff TUI, end to end: the bridge's supply scan
raises them in a real database, the bridge's push publishes the store's retained list
through a real Mosquitto, a REAL agent (built like ``kiosk-agent run``, MQTT on) keeps it,
and the TUI's Stock screen (key 7) shows it through the control API."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import aiomqtt
import pytest
from textual.widgets import DataTable

from cloud_bridge import inventory
from cloud_bridge.db import Database
from cloud_bridge.supply import alerts, push, service, suppliers
from cloud_bridge.supply.models import SupplyAlert  # noqa: F401  (tables on Base)
from contract.wire.stock import StockAlertItem, StockAlerts
from contract.wire.topics import store_stock_alerts
from tests.tui.conftest import DEMO_PRICE_BOOK
from tests.tui.test_tui import REFRESH_S, plain
from tests.tui.test_tui_agent import wait_for
from tui.app import KioskTUI

TODAY = date.today()


@pytest.fixture
async def bridge_db(tmp_path):
    """The bridge's database (SQLite file) with the whole schema."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'bridge.db'}")
    await db.create_all()
    yield db
    await db.close()


@pytest.fixture
async def mqtt_agent(tmp_path, sock_dir, staff_pin_hash, broker, monkeypatch):
    """A real Agent (store1/kiosk1) with its MQTT link on the test broker."""
    from kiosk_agent.agent import build_agent
    from kiosk_agent.config import AgentConfig

    for name in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "CREDENTIALS_DIRECTORY"):
        monkeypatch.delenv(name, raising=False)
    cfg = AgentConfig.model_validate({
        "journal": {"path": str(tmp_path / "journal.db"),
                    "seed_price_book": str(DEMO_PRICE_BOOK)},
        "mqtt": {"host": "127.0.0.1", "port": broker.port},
        "camera": {"kind": "none"}, "display": {"kind": "none"},
        "printer": {"kind": "file", "file_path": str(tmp_path / "receipts.bin")},
        "control": {"socket_path": str(sock_dir / "agent.sock"), "socket_group": None,
                    "staff_pin_hash": staff_pin_hash},
    })
    agent = build_agent(cfg)
    task = asyncio.create_task(agent.run())
    try:
        deadline = asyncio.get_running_loop().time() + 10
        while not (agent.started.is_set() and cfg.control.socket_path.exists()):
            assert not task.done(), "the agent stopped while starting"
            assert asyncio.get_running_loop().time() < deadline, "agent not serving in time"
            await asyncio.sleep(0.02)
        yield agent
    finally:
        agent.stop()
        await asyncio.wait_for(task, 15)


async def _world(db) -> None:
    """store1: bread (面包) whose only lot expires tomorrow; milk sold out."""
    async with db.session() as s:
        await suppliers.upsert_product(s, product_id="bread", name_zh="面包", name_en="Bread",
                                       shelf_life_days=3, vat_rate_bp=900)
        await service.receive_into_lot(s, store="store1", product_id="bread", lot_no="B-7",
                                       expiry_date=TODAY + timedelta(days=1), qty=6,
                                       kind="receipt", doc_type="receipt", doc_id="GR-1",
                                       actor="t")
        await inventory.set_on_hand(s, "store1", "milk", 0)


async def _scan(db) -> None:
    async with db.session() as s:
        await alerts.scan_stock_alerts(s, "store1", TODAY)


def _rows(app) -> list[str]:
    table = app.screen.query_one("#stock-alerts", DataTable)
    return [" ".join(str(c) for c in table.get_row_at(i)) for i in range(table.row_count)]


async def test_the_stores_stock_alerts_reach_the_staff_tui(bridge_db, mqtt_agent, broker):
    agent = mqtt_agent
    app = KioskTUI(str(agent.config.control.socket_path), refresh_s=REFRESH_S)
    sent: dict[str, str] = {}
    async with aiomqtt.Client("127.0.0.1", broker.port, identifier="bridge-test") as bridge, \
            app.run_test(size=(80, 24)) as pilot:
        await pilot.press("7")
        await wait_for(pilot, lambda: "尚未收到" in plain(app, "#stock-summary"),
                       "nothing received yet")
        await _world(bridge_db)
        await _scan(bridge_db)
        assert await push.publish_changed(bridge_db, bridge.publish, sent) == ["store1"]
        await wait_for(pilot, lambda: len(_rows(app)) == 2, "two alerts on the screen")
        rows = _rows(app)
        assert "缺货" in rows[0] and "milk" in rows[0] and "库存 0" in rows[0]
        assert "临期" in rows[1] and "面包" in rows[1] and "B-7" in rows[1]
        assert "1天" in rows[1] and "待处理" in rows[1]
        assert "2 条库存预警" in plain(app, "#stock-summary")
        # Nothing changed: a second round publishes nothing.
        assert await push.publish_changed(bridge_db, bridge.publish, sent) == []

        # What the kiosk must not take: another store's list on this store's topic, a
        # malformed payload, and a list older than the one it shows.
        topic = store_stock_alerts("store1")
        later = datetime.now(UTC) + timedelta(days=1)
        foreign = StockAlerts(store="store2", as_of=later, items=[StockAlertItem(
            id=99, kind="stockout", state="open", product_id="p-foreign", since=later)])
        await bridge.publish(topic, foreign.encode(), qos=1, retain=True)
        await bridge.publish(topic, b'{"store": "store1", "items": "bad"}', qos=1, retain=True)
        stale = StockAlerts(store="store1", as_of=datetime(2001, 1, 1, tzinfo=UTC))
        await bridge.publish(topic, stale.encode(), qos=1, retain=True)

        # Staff acknowledge the milk in the console; milk arrives and the scan resolves it.
        async with bridge_db.session() as s:
            milk = next(a for a in await alerts.list_alerts(
                s, store="store1", chain_wide=False, state=None, kind="stockout",
                limit=10, offset=0))
            await alerts.set_alert_state(s, milk.id, "acknowledged", "clerk")
        sent.clear()  # the rogue messages replaced the retained list on the broker
        await push.publish_changed(bridge_db, bridge.publish, sent)
        await wait_for(pilot, lambda: any("已确认" in r for r in _rows(app)), "acknowledged")
        assert not any("p-foreign" in r for r in _rows(app)) and len(_rows(app)) == 2
        async with bridge_db.session() as s:
            await inventory.apply_deltas(s, {("store1", "milk"): 12}, source="adjustment")
            await service.write_off(s, store="store1", product_id="bread", lot_no="B-7",
                                    qty=6, reason="expired", actor="clerk")
            await service.receive_into_lot(s, store="store1", product_id="bread",
                                           lot_no="B-8", qty=6, kind="receipt",
                                           expiry_date=TODAY + timedelta(days=10),
                                           doc_type="receipt", doc_id="GR-2", actor="t")
        await _scan(bridge_db)
        await push.publish_changed(bridge_db, bridge.publish, sent)
        await wait_for(pilot, lambda: "暂无库存预警" in plain(app, "#stock-summary"),
                       "nothing left to do")
        assert _rows(app) == []
        await pilot.press("l")  # English
        await wait_for(pilot, lambda: "no stock alerts" in plain(app, "#stock-summary"),
                       "English")
