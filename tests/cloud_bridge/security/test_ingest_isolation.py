"""One kiosk's bad event must not fail other kiosks' events: over MQTT, through the ingest.

Before, one oversized value (an amount past 64 bits, a name longer than its column)
failed the whole batch's INSERT, other kiosks' events included, again on every resend.
Now each wire field is checked against the column it goes to (refused with the field's
name), and whatever still fails in the database sends the batch through event by event,
so only the event at fault is rejected. PostgreSQL never truncates a long value.
"""

from __future__ import annotations

import asyncio
import logging

import aiomqtt
import pytest
from sqlalchemy import func, select

from cloud_bridge.config import BridgeConfig
from cloud_bridge.ingest import Ingest
from cloud_bridge.models import OrderLine, StoredEvent
from contract.wire import KioskTopics
from contract.wire.base import decode
from contract.wire.events import EventAck

from ..bridge_helpers import order_event

KIOSKS = [("s1", "k1"), ("s1", "k2"), ("s2", "k1")]


def _config(broker, db_url: str) -> BridgeConfig:
    cfg = BridgeConfig()
    cfg.bridge.worker_id = "iso"
    cfg.database.url = db_url
    cfg.mqtt.port = broker.port
    cfg.mqtt.username = None
    cfg.ingest.batch_wait_ms = 300  # all three kiosks' events in one batch
    cfg.rpc.handler_modules = []
    return cfg


async def _send(broker, db, db_url, bad) -> tuple[dict, dict]:
    """Good events from three kiosks plus ``bad`` (from s2/k1) in one batch; the acks."""
    good = {k: [order_event(*k, i, order_no=f"{k[0]}-{k[1]}-20260301-{i:04d}")
                for i in range(3)] for k in KIOSKS}
    acked: dict[tuple[str, str], set[str]] = {k: set() for k in KIOSKS}
    rejected: dict[str, str] = {}
    async with Ingest(_config(broker, db_url), db) as ingest:
        await asyncio.wait_for(ingest.connected.wait(), 10)
        clients = {k: aiomqtt.Client("127.0.0.1", broker.port, identifier=f"{k[0]}-{k[1]}",
                                     protocol=aiomqtt.ProtocolVersion.V5) for k in KIOSKS}
        for c in clients.values():
            await c.__aenter__()
        try:
            for k, c in clients.items():
                await c.subscribe(KioskTopics(*k).events_ack, qos=1)
            for k, c in clients.items():
                for e in good[k]:
                    await c.publish(KioskTopics(*k).events, e.encode(), qos=1)
            await clients[("s2", "k1")].publish(KioskTopics("s2", "k1").events, bad.encode(),
                                                qos=1)

            async def listen(k) -> None:
                async for msg in clients[k].messages:
                    ack = decode(EventAck, msg.payload)
                    acked[k].update(ack.acked)
                    rejected.update({r.event_id: r.reason for r in ack.rejected})
                    want = len(good[k]) + (1 if k == ("s2", "k1") else 0)
                    if len(acked[k]) + sum(1 for r in ack.rejected) >= want or (
                            len(acked[k]) == len(good[k]) and bad.event_id in rejected):
                        return

            await asyncio.wait_for(asyncio.gather(*(listen(k) for k in KIOSKS)), 15)
        finally:
            for c in clients.values():
                await c.__aexit__(None, None, None)
    assert {k: acked[k] for k in KIOSKS} == {k: {e.event_id for e in good[k]} for k in KIOSKS}
    return good, rejected


async def _count(db, model) -> int:
    async with db.read() as s:
        return int(await s.scalar(select(func.count()).select_from(model)))


@pytest.mark.parametrize("field,value,reason", [
    ("unit_price", 2**62, "is out of range (at most 9223372036854775807)"),
    ("name_zh", "长" * 201, "data.lines.1.name_zh: 201 characters, at most 200"),
    ("product_id", "p" * 65, "data.lines.1.product_id: 65 characters, at most 64"),
])
async def test_an_oversized_field_is_refused_alone(broker, db, db_url, field, value, reason):
    bad = order_event("s2", "k1", 3, order_no="s2-k1-20260301-0003")
    line = bad.data["lines"][0]
    line[field] = value
    if field == "unit_price":
        line["list_amount"] = line["amount"] = line["qty"] * value
        bad.data["subtotal"] = bad.data["total"] = sum(ln["amount"] for ln in bad.data["lines"])
        bad.data["tenders"][0]["amount"] = bad.data["total"]
    _, rejected = await _send(broker, db, db_url, bad)
    assert reason in rejected[bad.event_id]
    assert await _count(db, StoredEvent) == 9  # every good event of every kiosk


async def test_what_slips_past_the_bounds_fails_only_its_event(broker, db, db_url, monkeypatch,
                                                               caplog):
    # A column nobody bounded yet: the database is the last line, event by event.
    monkeypatch.setattr("cloud_bridge.ingest.validation.bounds_problem", lambda ev, data: None)
    bad = order_event("s2", "k1", 3, order_no="s2-k1-20260301-0003")
    bad.data["lines"][0]["name_zh"] = "长" * 201
    caplog.set_level(logging.WARNING, "cloud_bridge.ingest.storage")
    if db.dialect == "postgresql":  # varchar(200) refuses it (and never truncates it)
        _, rejected = await _send(broker, db, db_url, bad)
        assert rejected[bad.event_id].startswith("not storable")
        assert "one by one" in caplog.text
        assert await _count(db, StoredEvent) == 9
    # SQLite has no column lengths: show the same isolation with a 64-bit overflow.
    monkeypatch.setattr("cloud_bridge.ingest.validation.sale_arithmetic_problem",
                        lambda data: None)
    huge = order_event("s2", "k1", 7, order_no="s2-k1-20260301-0007")
    huge.data["lines"][0]["unit_price"] = 2**64
    caplog.clear()
    _, rejected = await _send(broker, db, db_url, huge)
    assert rejected[huge.event_id].startswith("not storable")
    assert "one by one" in caplog.text
    async with db.read() as s:  # nothing truncated anywhere
        longest = await s.scalar(select(func.max(func.length(OrderLine.name_zh))))
    assert longest < 200
