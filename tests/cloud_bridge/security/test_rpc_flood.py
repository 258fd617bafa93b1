"""A kiosk flooding RPC requests: bounded in flight before any task exists, and the
ingest keeps storing and acking events meanwhile. Over MQTT on a real broker."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import aiomqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from cloud_bridge import rpc
from cloud_bridge.config import BridgeConfig
from cloud_bridge.ingest import Ingest
from contract.wire import KioskTopics
from contract.wire.base import decode
from contract.wire.events import EventAck
from contract.wire.rpc import RpcRequest, RpcResponse

from ..bridge_helpers import order_event

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
LIMIT = 3
FLOOD = 60


async def test_rpc_flood_is_bounded_and_events_still_flow(broker, db, db_url):
    running = 0
    most = 0
    release = asyncio.Event()

    async def slow(ctx: rpc.RpcContext, params: dict) -> dict:
        nonlocal running, most
        running += 1
        most = max(most, running)
        try:
            await release.wait()
        finally:
            running -= 1
        return {}

    rpc.register("test.slow", slow, replace=True)
    cfg = BridgeConfig()
    cfg.bridge.worker_id = "flood"
    cfg.database.url = db_url
    cfg.mqtt.port, cfg.mqtt.username = broker.port, None
    cfg.ingest.batch_wait_ms = 2
    cfg.rpc.handler_modules = []
    cfg.rpc.concurrency = LIMIT
    topics = KioskTopics("s1", "k1")
    try:
        async with Ingest(cfg, db) as ingest:
            await asyncio.wait_for(ingest.connected.wait(), 10)
            async with aiomqtt.Client("127.0.0.1", broker.port, identifier="s1-k1",
                                      protocol=aiomqtt.ProtocolVersion.V5) as kiosk:
                await kiosk.subscribe(topics.rpc_res, qos=1)
                await kiosk.subscribe(topics.events_ack, qos=1)
                deadline = datetime.now(UTC) + timedelta(seconds=30)
                for i in range(FLOOD):
                    props = Properties(PacketTypes.PUBLISH)
                    props.CorrelationData = f"c{i}".encode()
                    req = RpcRequest(id=f"r{i}", method="test.slow", deadline=deadline)
                    await kiosk.publish(topics.rpc_req, req.encode(), qos=1, properties=props)
                # While the flood holds every place, a sale still gets stored and acked.
                sale = order_event("s1", "k1", 0)
                await kiosk.publish(topics.events, sale.encode(), qos=1)
                replies: set[str] = set()
                acked = False
                async with asyncio.timeout(15):
                    async for msg in kiosk.messages:
                        if msg.topic.value == topics.events_ack:
                            acked = sale.event_id in decode(EventAck, msg.payload).acked
                            assert ingest.stats.rpc_dropped == FLOOD - LIMIT
                            release.set()
                        else:
                            replies.add(decode(RpcResponse, msg.payload).id)
                        if acked and len(replies) == LIMIT:
                            break
    finally:
        rpc.unregister("test.slow")
    assert acked and most == LIMIT
    assert replies == {f"r{i}" for i in range(LIMIT)}  # the first ones, answered
