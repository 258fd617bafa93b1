"""Ingest: events stored once, acked after commit, rejections with reasons, fleet, RPC."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy import func, select

from cloud_bridge import fleet, inventory, rpc
from cloud_bridge.config import BridgeConfig
from cloud_bridge.ingest import Ingest, store_events
from cloud_bridge.models import Alert, Order, OrderHistory, OrderLine, Stock, StoredEvent
from contract.wire import KioskTopics
from contract.wire.base import decode
from contract.wire.events import EventAck
from contract.wire.presence import KioskStatus, Telemetry
from contract.wire.rpc import RpcRequest, RpcResponse
from contract.wire.shadow import ShadowReported
from tests.support.waiting import until

from ..bridge_helpers import order_event

TZ = "Asia/Shanghai"


async def count(db, model) -> int:
    async with db.session() as s:
        return int(await s.scalar(select(func.count()).select_from(model)))


async def test_events_stored_once_with_orders_and_stock(db):
    async with db.session() as s:
        await inventory.set_on_hand(s, "s1", "p-milk", 3)
    evs = [order_event("s1", "k1", i) for i in range(3)]
    items = [("s1", "k1", e.encode()) for e in evs]
    first = await store_events(db, items + items[:1], worker="w1", tz=TZ)
    assert first.stored == 3
    assert first.acked[("s1", "k1")] == [e.event_id for e in evs]
    again = await store_events(db, items, worker="w2", tz=TZ)
    assert again.stored == 0 and again.duplicates == 3
    assert sorted(again.acked[("s1", "k1")]) == sorted(e.event_id for e in evs)
    assert await count(db, StoredEvent) == 3
    assert await count(db, Order) == 3
    assert await count(db, OrderLine) == 6
    assert await count(db, OrderHistory) == 3
    async with db.session() as s:
        milk = await s.get(Stock, ("s1", "p-milk"))
        bread = await s.get(Stock, ("s1", "p-bread"))
        alerts = (await s.scalars(select(Alert).order_by(Alert.id))).all()
        order = await s.scalar(select(Order).where(Order.order_no == "s1-k1-000000"))
    # 3 on hand, 6 sold: stock shows the truth and the shortfall is an alert.
    assert milk.on_hand == -3 and bread.on_hand == -3
    kinds = {(a.kind, a.product_id) for a in alerts}
    assert ("oversell", "p-milk") in kinds and ("oversell", "p-bread") in kinds
    assert sum(a.detail["shortfall"] for a in alerts if a.product_id == "p-milk") == 3
    assert order.status == "completed" and order.total == 1700 and order.business_date == "2026-03-01"


async def test_invalid_events_rejected_with_reason(db):
    good = order_event("s1", "k1", 1)
    wrong_topic = order_event("s1", "k2", 2)
    bad_data = order_event("s1", "k1", 3)
    bad_data.data["lines"] = []
    unknown = order_event("s1", "k1", 4)
    unknown.type = "order.teleported"
    missing_v = json.dumps({"event_id": "e-missing-v", "type": "order.completed"}).encode()
    items = [
        ("s1", "k1", good.encode()), ("s1", "k1", wrong_topic.encode()),
        ("s1", "k1", bad_data.encode()), ("s1", "k1", unknown.encode()),
        ("s1", "k1", missing_v), ("s1", "k1", b"\xff\xfe not json"),
    ]
    res = await store_events(db, items, worker="w1", tz=TZ)
    assert res.acked[("s1", "k1")] == [good.event_id]
    reasons = {r.event_id: r.reason for r in res.rejected[("s1", "k1")]}
    assert set(reasons) == {wrong_topic.event_id, bad_data.event_id, unknown.event_id,
                            "e-missing-v"}
    assert "k2" in reasons[wrong_topic.event_id]
    assert reasons[bad_data.event_id].startswith("data.lines")
    assert "unknown event type" in reasons[unknown.event_id]
    assert "'v'" in reasons["e-missing-v"]
    assert await count(db, StoredEvent) == 1


async def test_duplicate_order_no_from_other_event_is_an_alert(db):
    a = order_event("s1", "k1", 1, order_no="SAME")
    b = order_event("s1", "k2", 1, order_no="SAME")
    await store_events(db, [("s1", "k1", a.encode())], worker="w", tz=TZ)
    res = await store_events(db, [("s1", "k2", b.encode())], worker="w", tz=TZ)
    assert res.acked[("s1", "k2")] == [b.event_id]
    async with db.session() as s:
        kinds = [a.kind for a in (await s.scalars(select(Alert))).all()]
    assert "duplicate_order_no" in kinds
    assert await count(db, Order) == 1


def _tampered(seq: int, mutate) -> tuple[str, bytes]:
    ev = order_event("s1", "k1", seq)
    mutate(ev.data)
    return ev.event_id, ev.encode()


def _set(path: str, value):
    def mutate(d):
        *head, last = path.split(".")
        for p in head:
            d = d[int(p)] if p.isdigit() else d[p]
        d[last] = value

    return mutate


async def test_order_totals_that_do_not_add_up_are_rejected(db, caplog):
    """A forged or broken sale (totals vs lines vs tenders, negative amounts) is refused."""
    cases = {
        "total": _set("total", 1),
        "subtotal": _set("subtotal", 99999),
        "discount_total": _set("discount_total", 5),
        "line amount": _set("lines.0.amount", 1),
        "tenders": _set("tenders.0.amount", 1),
        "tender currency": _set("tenders.0.currency", "USD"),
        "negative points earned": _set("points_earned", -500),
        "negative points redeemed": _set("points_redeemed", -500),
        "negative vat": _set("vat", [{"rate_bp": 1300, "gross": -1, "net": -1, "tax": 0}]),
    }
    items, names = [], {}
    for seq, (name, mutate) in enumerate(cases.items()):
        eid, payload = _tampered(seq, mutate)
        items.append(("s1", "k1", payload))
        names[eid] = name
    res = await store_events(db, items, worker="w", tz=TZ)
    assert res.acked.get(("s1", "k1"), []) == []
    rejected = {r.event_id for r in res.rejected[("s1", "k1")]}
    assert {names[e] for e in rejected} == set(cases)
    assert await count(db, StoredEvent) == 0 and await count(db, Order) == 0
    assert await count(db, Stock) == 0


async def test_same_event_id_with_other_content_is_rejected_not_acked(db, caplog):
    """A resend is acked again; a different event under a stored id is refused, loudly."""
    first = order_event("s1", "k1", 1)
    await store_events(db, [("s1", "k1", first.encode())], worker="w", tz=TZ)
    resend = await store_events(db, [("s1", "k1", first.encode())], worker="w", tz=TZ)
    assert resend.acked[("s1", "k1")] == [first.event_id] and not resend.rejected

    forged = first.model_copy(deep=True)
    forged.data["total"] = forged.data["subtotal"] = 1
    forged.data["lines"] = forged.data["lines"][:1]
    forged.data["lines"][0].update(qty=1, unit_price=1, list_amount=1, amount=1)
    forged.data["tenders"][0]["amount"] = 1
    other_kiosk = first.model_copy(update={"kiosk": "k2"})
    res = await store_events(db, [("s1", "k1", forged.encode()),
                                  ("s1", "k2", other_kiosk.encode())], worker="w", tz=TZ)
    assert not res.acked.get(("s1", "k1")) and not res.acked.get(("s1", "k2"))
    assert [r.event_id for r in res.rejected[("s1", "k1")]] == [first.event_id]
    assert [r.event_id for r in res.rejected[("s1", "k2")]] == [first.event_id]
    assert "different content" in res.rejected[("s1", "k1")][0].reason
    assert any(r.levelname == "ERROR" and first.event_id in r.getMessage()
               for r in caplog.records)
    async with db.session() as s:
        (order,) = (await s.scalars(select(Order))).all()
    assert order.total == 1700 and await count(db, StoredEvent) == 1

    # Within one batch: the first copy wins, a different second copy is refused.
    a = order_event("s1", "k1", 2)
    b = a.model_copy(deep=True)
    b.data["note"] = "changed"
    res = await store_events(db, [("s1", "k1", a.encode()), ("s1", "k1", b.encode()),
                                  ("s1", "k1", a.encode())], worker="w", tz=TZ)
    assert res.acked[("s1", "k1")] == [a.event_id]
    assert [r.event_id for r in res.rejected[("s1", "k1")]] == [a.event_id]


async def test_same_order_no_twice_in_one_batch_stores_one_order_and_alerts(db):
    """Two events of one order number in one batch: one order, an alert, the batch stored."""
    a = order_event("s1", "k1", 1, order_no="SAME")
    b = order_event("s1", "k2", 1, order_no="SAME", lines=[("p-milk", 1, 450)])
    other = order_event("s1", "k3", 1)
    res = await store_events(db, [("s1", "k1", a.encode()), ("s1", "k2", b.encode()),
                                  ("s1", "k3", other.encode())], worker="w", tz=TZ)
    assert res.acked[("s1", "k1")] == [a.event_id] and res.acked[("s1", "k2")] == [b.event_id]
    assert res.acked[("s1", "k3")] == [other.event_id] and res.alerts >= 1
    async with db.session() as s:
        orders_ = {o.order_no: o for o in (await s.scalars(select(Order))).all()}
        kinds = [x.kind for x in (await s.scalars(select(Alert))).all()]
        lines = (await s.scalars(select(OrderLine).where(
            OrderLine.order_id == orders_["SAME"].id))).all()
    assert set(orders_) == {"SAME", other.data["order_no"]}
    assert "duplicate_order_no" in kinds
    stored_event = orders_["SAME"].event_id
    assert len(lines) == (2 if stored_event == a.event_id else 1)


def test_example_config_is_valid():
    from pathlib import Path

    from cloud_bridge.config import load_config

    root = Path(__file__).resolve().parents[3]
    for name in ("config/bridge.example.toml", "config/chain-scale/bridge-worker.toml"):
        assert load_config(root / name).mqtt.shared is True


def _config(broker, db_url: str, worker: str = "w1") -> BridgeConfig:
    cfg = BridgeConfig()
    cfg.bridge.worker_id = worker
    cfg.database.url = db_url
    cfg.mqtt.port = broker.port
    cfg.mqtt.username = None
    cfg.ingest.batch_wait_ms = 2
    cfg.rpc.handler_modules = []
    return cfg


async def test_mqtt_ack_after_store_and_fleet_view(broker, db, db_url):
    topics = KioskTopics("s1", "k1")
    async with Ingest(_config(broker, db_url), db) as ingest:
        await asyncio.wait_for(ingest.connected.wait(), 10)
        async with aiomqtt.Client("127.0.0.1", broker.port, identifier="kiosk-s1-k1",
                                  protocol=aiomqtt.ProtocolVersion.V5) as kiosk:
            await kiosk.subscribe(topics.events_ack, qos=1)
            evs = [order_event("s1", "k1", i) for i in range(20)]
            bad = order_event("s1", "k1", 99)
            bad.data["total"] = -1
            for e in [*evs, bad]:
                await kiosk.publish(topics.events, e.encode(), qos=1)
            await kiosk.publish(topics.status, KioskStatus(state="online", version="1.2.3").encode(),
                                qos=1, retain=True)
            await kiosk.publish(topics.telemetry, Telemetry(queue_depth=21, oldest_unsent_s=4.0,
                                                            printer="ok", camera="ok",
                                                            config_version=7).encode())
            await kiosk.publish(topics.shadow_reported,
                                ShadowReported(applied_version=7, config={"x": 1}).encode(), qos=1)
            acked: set[str] = set()
            rejected: dict[str, str] = {}
            async with asyncio.timeout(10):
                async for msg in kiosk.messages:
                    ack = decode(EventAck, msg.payload)
                    acked.update(ack.acked)
                    rejected.update({r.event_id: r.reason for r in ack.rejected})
                    if len(acked) == 20 and rejected:
                        break
            assert acked == {e.event_id for e in evs}
            assert "total" in rejected[bad.event_id]
            # Acked means stored: the rows are there the moment the ack arrives.
            assert await count(db, StoredEvent) == 20

            async def fleet_ready() -> bool:
                async with db.session() as s:
                    view = await fleet.fleet_view(s)
                return bool(view) and view[0]["version"] == "1.2.3" and \
                    view[0]["queue_depth"] == 21 and view[0]["config_version"] == 7

            await until(fleet_ready, 10.0)
            async with db.session() as s:
                (row,) = await fleet.fleet_view(s, store="s1")
            assert row["state"] == "online" and row["last_seq"] == 19
            assert row["printer"] == "ok" and row["state_since"]

            # The last will (or a clean shutdown) flips it offline, with the time since.
            await kiosk.publish(topics.status, KioskStatus(state="offline", reason="lwt").encode(),
                                qos=1, retain=True)

            async def offline() -> bool:
                async with db.session() as s:
                    return (await fleet.fleet_view(s))[0]["state"] == "offline"

            await until(offline, 10.0)
            async with db.session() as s:
                (gone,) = await fleet.fleet_view(s)
            assert gone["state_reason"] == "lwt" and gone["state_since"] > row["state_since"]


async def test_rpc_dispatch_registry_and_errors(broker, db, db_url):
    seen: list[rpc.RpcContext] = []

    async def echo(ctx: rpc.RpcContext, params: dict) -> dict:
        seen.append(ctx)
        if params.get("fail"):
            raise rpc.RpcFailure("declined", "拒绝 / declined")
        return {"echo": params, "kiosk": ctx.kiosk}

    rpc.register("test.echo", echo, replace=True)
    topics = KioskTopics("s1", "k9")
    try:
        async with Ingest(_config(broker, db_url), db) as ingest:
            await asyncio.wait_for(ingest.connected.wait(), 10)
            async with aiomqtt.Client("127.0.0.1", broker.port, identifier="kiosk-s1-k9",
                                      protocol=aiomqtt.ProtocolVersion.V5) as kiosk:
                await kiosk.subscribe(topics.rpc_res, qos=1)
                deadline = datetime.now(UTC) + timedelta(seconds=10)
                reqs = [
                    RpcRequest(id="r1", method="test.echo", params={"a": 1}, deadline=deadline),
                    RpcRequest(id="r2", method="no.such", deadline=deadline),
                    RpcRequest(id="r3", method="test.echo", params={"fail": True},
                               deadline=deadline),
                    RpcRequest(id="r4", method="test.echo",
                               deadline=datetime.now(UTC) - timedelta(seconds=1)),
                ]
                for r in reqs:
                    props = Properties(PacketTypes.PUBLISH)
                    props.CorrelationData = ("c-" + r.id).encode()
                    props.ResponseTopic = topics.rpc_res
                    await kiosk.publish(topics.rpc_req, r.encode(), qos=1, properties=props)
                await kiosk.publish(topics.rpc_req, b'{"v":1,"id":"r5"}', qos=1)
                replies: dict[str, tuple[RpcResponse, bytes | None]] = {}
                async with asyncio.timeout(10):
                    async for msg in kiosk.messages:
                        res = decode(RpcResponse, msg.payload)
                        replies[res.id] = (res, getattr(msg.properties, "CorrelationData", None))
                        if len(replies) == 5:
                            break
    finally:
        rpc.unregister("test.echo")
    assert replies["r1"][0].ok and replies["r1"][0].result == {"echo": {"a": 1}, "kiosk": "k9"}
    assert replies["r1"][1] == b"c-r1"
    assert replies["r2"][0].error.code == "unknown_method"
    assert replies["r3"][0].error.code == "declined"
    assert replies["r4"][0].error.code == "deadline_exceeded"
    assert replies["r5"][0].error.code == "bad_request"
    assert [c.request_id for c in seen] == ["r1", "r3"] or sorted(
        c.request_id for c in seen) == ["r1", "r3"]
    assert seen[0].store == "s1" and seen[0].db is db


async def test_reconnects_after_broker_restart(broker, db, db_url):
    cfg = _config(broker, db_url)
    cfg.mqtt.reconnect_min_s = 0.1
    cfg.mqtt.reconnect_max_s = 0.3
    topics = KioskTopics("s1", "k5")
    async with Ingest(cfg, db) as ingest:
        await asyncio.wait_for(ingest.connected.wait(), 10)
        await asyncio.to_thread(broker.restart)
        await until(lambda: _true(ingest.connected.is_set() and ingest.stats.connects >= 2), 10.0)
        async with aiomqtt.Client("127.0.0.1", broker.port, identifier="kiosk-s1-k5",
                                  protocol=aiomqtt.ProtocolVersion.V5) as kiosk:
            await kiosk.subscribe(topics.events_ack, qos=1)
            ev = order_event("s1", "k5", 0)
            await kiosk.publish(topics.events, ev.encode(), qos=1)
            async with asyncio.timeout(10):
                async for msg in kiosk.messages:
                    assert decode(EventAck, msg.payload).acked == [ev.event_id]
                    break
    assert await count(db, StoredEvent) == 1


async def _true(value: bool) -> bool:
    return value


async def test_resend_of_a_buffered_event_is_coalesced(broker, db, db_url, monkeypatch):
    """A copy of an event still waiting for its batch is dropped on arrival and answered
    by the original's ack; a copy with other content under the same id is not (it is
    refused); once acked, a resend is stored again as a duplicate and acked again."""
    from cloud_bridge.ingest import worker

    release = asyncio.Event()
    real_store = worker.store_events

    async def held_store(*args, **kwargs):
        await release.wait()  # the batch waits: its events stay buffered
        return await real_store(*args, **kwargs)

    monkeypatch.setattr(worker, "store_events", held_store)
    topics = KioskTopics("s1", "k1")
    ev = order_event("s1", "k1", 1)
    forged = ev.model_copy(update={"seq": 2})  # same event id, other content
    async with Ingest(_config(broker, db_url), db) as ingest:
        await asyncio.wait_for(ingest.connected.wait(), 10)
        async with aiomqtt.Client("127.0.0.1", broker.port, identifier="kiosk-s1-k1",
                                  protocol=aiomqtt.ProtocolVersion.V5) as kiosk:
            await kiosk.subscribe(topics.events_ack, qos=1)

            async def ack() -> EventAck:
                async with asyncio.timeout(10):
                    async for msg in kiosk.messages:
                        return decode(EventAck, msg.payload)
                raise AssertionError("no ack")

            for payload in (ev.encode(), ev.encode(), forged.encode()):
                await kiosk.publish(topics.events, payload, qos=1)
            await until(lambda: ingest.stats.received == 3, 10.0)
            assert ingest.stats.coalesced == 1
            release.set()
            acked: set[str] = set()
            rejected: set[str] = set()
            while not (acked and rejected):
                got = await ack()
                acked.update(got.acked)
                rejected.update(r.event_id for r in got.rejected)
            assert acked == {ev.event_id} and rejected == {ev.event_id}
            assert await count(db, StoredEvent) == 1 and await count(db, Order) == 1

            await until(lambda: not ingest._buffered, 10.0)
            await kiosk.publish(topics.events, ev.encode(), qos=1)  # after its ack
            assert (await ack()).acked == [ev.event_id]
            assert ingest.stats.coalesced == 1 and ingest.stats.duplicates == 1
            assert await count(db, StoredEvent) == 1 and await count(db, Order) == 1
