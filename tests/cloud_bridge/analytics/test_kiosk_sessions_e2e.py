"""Kiosk sessions end to end: the kiosk's recorder and outbox, a real Mosquitto, the
bridge's ingest, the analytics job and the KPI API, each session counted exactly once."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import aiomqtt
import pytest
from sqlalchemy import func, select

from cloud_bridge import auth
from cloud_bridge.analytics.models import KioskSession
from cloud_bridge.ingest import Ingest
from cloud_bridge.models import StoredEvent
from contract.wire import KioskTopics
from contract.wire.events import SESSION_SUMMARY
from kiosk_agent.checkout import Checkout, Refusal
from kiosk_agent.config import OutboxSection
from kiosk_agent.journal import Journal
from kiosk_agent.link import Link
from kiosk_agent.outbox import OutboxDrainer
from kiosk_agent.session_summary import SessionRecorder
from tests.cloud_bridge.ingest.test_storage import _config
from tests.cloud_bridge.test_api import add_user, client, login
from tests.kiosk_agent.sales import FakePayments, Outcome, make_book
from tests.support.link_helpers import mqtt_section, shrink_timings
from tests.support.waiting import until

__all__ = ["client"]

A = "/api/v1/admin/analytics"
PAYMENT_CODE = "134567890123456789"  # a WeChat-shaped payment code (test value)


@pytest.fixture(autouse=True)
def _fast(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shrink the link's timing constants."""
    shrink_timings(monkeypatch)


async def shop(co: Checkout, rec: SessionRecorder) -> None:
    """Three shoppers: paid after a decline (one item taken off, one unknown barcode),
    one who walks away at the payment screen, one who cancels."""

    def scan(code: str) -> None:
        try:
            co.scan_product(code)
        except Refusal as refusal:
            rec.refused(refusal.code)  # what the agent does with a scan's refusal

    for code in ("SKU-WATER", "SKU-CHIPS", "NO-SUCH-ITEM", "SKU-WATER"):
        scan(code)
    co.remove_line(2)
    co.request_payment()
    assert (await co.pay("wechat", PAYMENT_CODE)).status == "failed"
    assert (await co.pay("wechat", PAYMENT_CODE)).status == "paid"
    co.print_started()
    co.print_done()
    scan("SKU-CHIPS")
    co.request_payment()
    await co.timeout()
    scan("SKU-WATER")
    await co.cancel()


async def test_kiosk_sessions_reach_the_kpi_api_once(broker, db, db_url, client, tmp_path):
    await add_user(db, "boss", auth.HEAD_OFFICE)
    await add_user(db, "clerk2", auth.STORE_STAFF, "s2")
    topics = KioskTopics("s1", "k1")
    async with (Ingest(_config(broker, db_url), db) as ingest,
                Journal(tmp_path / "journal.db", "s1", "k1") as journal):
        await asyncio.wait_for(ingest.connected.wait(), 10)
        co = Checkout(journal, make_book(),
                      FakePayments(Outcome("failed", reason="expired"), Outcome("paid", "wx-1")))
        rec = SessionRecorder(journal, lambda: co)
        stop = asyncio.Event()
        recording = asyncio.create_task(rec.run(stop))
        async with (Link(mqtt_section(broker.port), "s1", "k1") as link,
                    OutboxDrainer(journal, link, OutboxSection(ack_timeout_s=5)) as drainer):
            await asyncio.sleep(0)  # the recorder attaches to the checkout
            await shop(co, rec)
            stop.set()
            await recording
            await drainer.wait_idle(15)

            async def drained() -> bool:
                return (await journal.outbox_stats()).depth == 0

            await until(drained, 15, what="every event acked by the bridge")
        async with db.session() as s:
            stored = (await s.scalars(select(StoredEvent).where(
                StoredEvent.type == SESSION_SUMMARY).order_by(StoredEvent.seq))).all()
        assert len(stored) == 3
        for row in stored:  # counters and codes only: never the payment code
            assert PAYMENT_CODE not in row.payload and "expired" not in row.payload
        # The kiosk resends one (its ack was lost): acked again, stored once.
        async with aiomqtt.Client("127.0.0.1", broker.port, identifier="kiosk-s1-k1-again",
                                  protocol=aiomqtt.ProtocolVersion.V5) as kiosk:
            await kiosk.subscribe(topics.events_ack, qos=1)
            await kiosk.publish(topics.events, stored[0].payload.encode(), qos=1)
            async with asyncio.timeout(10):
                async for msg in kiosk.messages:
                    if stored[0].event_id in json.loads(msg.payload)["acked"]:
                        break

    boss = await login(client, "boss")
    r = await client.post(f"{A}/runs", json={}, headers=boss)
    assert r.status == 202, await r.text()
    run_id = (await r.json())["id"]

    async def finished() -> bool:
        got = await (await client.get(f"{A}/runs/{run_id}", headers=boss)).json()
        assert got["status"] != "failed", got
        return got["status"] == "done"

    await until(finished, 60, what="the analytics run")
    async with db.session() as s:
        assert await s.scalar(select(func.count()).select_from(StoredEvent).where(
            StoredEvent.type == SESSION_SUMMARY)) == 3
        assert await s.scalar(select(func.count()).select_from(KioskSession)) == 3
    day = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).date()
    q = f"start={day}&end={day}"
    r = await client.get(f"{A}/metrics/kiosk_sessions?{q}&by=store", headers=boss)
    assert r.status == 200, await r.text()
    (s1,) = (await r.json())["rows"]
    assert s1["key"] == "s1"
    assert (s1["sessions"], s1["paid"], s1["abandoned"], s1["cancelled"]) == (3, 1, 1, 1)
    assert s1["abandon_rate"] == pytest.approx(2 / 3)
    assert s1["removal_rate"] == pytest.approx(1 / 5)  # 5 units scanned, 1 taken off
    assert s1["attempts_per_paid"] == 2 and s1["median_pay_s"] >= 0
    r = await client.get(f"{A}/metrics/session_errors?{q}", headers=boss)
    errors = {e["key"]: e["count"] for e in (await r.json())["rows"]}
    assert errors == {"unknown_product": 1, "payment_failed": 1}
    r = await client.get(f"{A}/metrics/kiosk_sessions?{q}&by=method", headers=boss)
    assert {e["key"]: e["sessions"] for e in (await r.json())["rows"]} == {
        "wechat": 1, "none": 2}
    # The funnel counts the same three sessions (a summary and its order are one session).
    r = await client.get(f"{A}/metrics/conversion_funnel?{q}", headers=boss)
    (funnel,) = (await r.json())["rows"]
    assert (funnel["sessions"], funnel["paid"]) == (3, 1)
    # Another store's clerk sees none of it, and may not ask for s1.
    clerk = await login(client, "clerk2")
    r = await client.get(f"{A}/metrics/kiosk_sessions?{q}", headers=clerk)
    assert r.status == 200 and (await r.json())["rows"][0]["sessions"] == 0
    r = await client.get(f"{A}/metrics/kiosk_sessions?{q}&store=s1", headers=clerk)
    assert r.status == 403, await r.text()
