"""A small stand-in for the cloud bridge's ingest, for the link's tests and the drain bench.

Subscribes to every kiosk's ``events`` with the bridge's shared subscription,
stores each event once by ``event_id``, and acks on the kiosk's ``events/ack``
(batched); a ``reject`` callback can refuse an event with a reason instead. It
reconnects like the kiosk does, so it survives a broker restart.
It can also answer ``rpc/req`` with a handler (MQTT 5 response topic + correlation data).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from contract.wire import topics as T
from contract.wire.base import WireError, decode
from contract.wire.events import Event, EventAck, Rejection
from contract.wire.rpc import RpcError, RpcRequest, RpcResponse

log = logging.getLogger(__name__)

ACK_FLUSH_S = 0.005
ACK_BATCH = 200
RECONNECT_S = 0.2


class FakeCloud:
    """Stores events by id (dedupe) and acks end to end."""

    def __init__(
        self,
        port: int,
        host: str = "127.0.0.1",
        username: str | None = None,
        password: str | None = None,
        reject: Callable[[Event], str | None] | None = None,
        rpc: Callable[[RpcRequest], Awaitable[dict[str, Any]]] | None = None,
        ack: bool = True,
        client_id: str = "fake-cloud",
        protocol: aiomqtt.ProtocolVersion = aiomqtt.ProtocolVersion.V5,
    ) -> None:
        self.protocol = protocol
        self.host, self.port = host, port
        self.username, self.password = username, password
        self.reject = reject
        self.rpc = rpc
        self.ack = ack
        self.client_id = client_id
        self.stored: dict[str, Event] = {}
        self.rejected: dict[str, str] = {}
        self.received = 0  # every events publish that arrived, duplicates included
        self.malformed = 0
        self.connected = asyncio.Event()
        self.changed = asyncio.Event()
        self._client: aiomqtt.Client | None = None
        self._acks: dict[tuple[str, str], EventAck] = defaultdict(EventAck)
        self._task: asyncio.Task[None] | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._dirty = asyncio.Event()
        self._rpc_tasks: set[asyncio.Future[None]] = set()

    async def __aenter__(self) -> FakeCloud:
        self._task = asyncio.create_task(self._run())
        self._flusher = asyncio.create_task(self._flush_loop())
        await asyncio.wait_for(self.connected.wait(), 10)
        return self

    async def __aexit__(self, *exc: object) -> None:
        for t in (self._task, self._flusher):
            if t:
                t.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t

    async def _run(self) -> None:
        while True:
            client = aiomqtt.Client(
                self.host, self.port, username=self.username, password=self.password,
                identifier=self.client_id, protocol=self.protocol,
                **({"clean_start": True} if self.protocol == aiomqtt.ProtocolVersion.V5 else {}), timeout=10, max_inflight_messages=1024,
                socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
            )
            client.pending_calls_threshold = 100000
            try:
                async with client:
                    await client.subscribe(T.bridge_subscription(T.EVENTS), qos=1)
                    if self.rpc:
                        await client.subscribe(T.bridge_subscription(T.RPC_REQ), qos=1)
                    self._client = client
                    self.connected.set()
                    async for msg in client.messages:
                        await self._on_message(msg)
            except aiomqtt.MqttError:
                pass
            finally:
                self._client = None
                self.connected.clear()
            await asyncio.sleep(RECONNECT_S)

    async def _on_message(self, msg: aiomqtt.Message) -> None:
        parsed = T.parse_kiosk_topic(msg.topic.value)
        if parsed is None:
            return
        store, kiosk, leaf = parsed
        if leaf == T.RPC_REQ:
            task = asyncio.ensure_future(self._answer(msg))
            self._rpc_tasks.add(task)
            task.add_done_callback(self._rpc_tasks.discard)
            return
        self.received += 1
        try:
            event = decode(Event, msg.payload)
        except WireError:
            self.malformed += 1
            return
        ack = self._acks[(store, kiosk)]
        reason = self.reject(event) if self.reject else None
        if reason:
            self.rejected[event.event_id] = reason
            ack.rejected.append(Rejection(event_id=event.event_id, reason=reason))
        else:
            self.stored.setdefault(event.event_id, event)
            ack.acked.append(event.event_id)
        self.changed.set()
        self._dirty.set()

    async def _answer(self, msg: aiomqtt.Message) -> None:
        props = msg.properties
        try:
            req = decode(RpcRequest, msg.payload)
        except WireError:
            return
        try:
            result = await self.rpc(req)  # type: ignore[misc]
            resp = RpcResponse(id=req.id, ok=True, result=result)
        except Exception as err:
            resp = RpcResponse(id=req.id, ok=False, error=RpcError(code="error", message=str(err)))
        out = Properties(PacketTypes.PUBLISH)
        out.CorrelationData = props.CorrelationData
        if self._client:
            await self._client.publish(props.ResponseTopic, resp.encode(), qos=1, properties=out)

    async def _flush_loop(self) -> None:
        while True:
            await self._dirty.wait()
            await asyncio.sleep(ACK_FLUSH_S)
            self._dirty.clear()
            await self.flush()

    async def flush(self) -> None:
        """Publish the pending acks (each kiosk's in one message per ``ACK_BATCH`` ids)."""
        if not self.ack:
            self._acks.clear()
            return
        pending, self._acks = self._acks, defaultdict(EventAck)
        client = self._client
        for (store, kiosk), ack in pending.items():
            topic = T.KioskTopics(store, kiosk).events_ack
            for i in range(0, max(len(ack.acked), len(ack.rejected)), ACK_BATCH):
                part = EventAck(
                    acked=ack.acked[i : i + ACK_BATCH], rejected=ack.rejected[i : i + ACK_BATCH]
                )
                if client is None:
                    return  # the kiosk resends; we ack then
                try:
                    await client.publish(topic, part.encode(), qos=1)
                except aiomqtt.MqttError:
                    return

    async def wait_stored(self, n: int, timeout: float = 20.0) -> None:  # noqa: ASYNC109
        """Wait until ``n`` distinct events are stored (or rejected)."""
        async def _wait() -> None:
            while len(self.stored) + len(self.rejected) < n:
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(_wait(), timeout)


def serve_fast(port: int) -> None:
    """A lean consumer process for the bench: paho callbacks, MQTT 3.1.1, JSON only.

    Same contract as :class:`FakeCloud` (shared subscription, store by ``event_id``,
    batched acks on ``events/ack``) without aiomqtt's per-message task and MQTT 5
    property parsing, so that on a 2-core machine the consumer is not what the bench
    measures. Runs until stdin closes; answers each stdin line with the counts.
    """
    import json
    import sys
    import threading

    import paho.mqtt.client as mqtt

    stored: dict[str, int] = {}
    pending: dict[tuple[str, str], list[str]] = defaultdict(list)
    lock = threading.Lock()
    counts = {"received": 0}
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="fake-cloud-fast",
                         protocol=mqtt.MQTTv311, clean_session=True)
    client.max_inflight_messages_set(1024)
    ready = threading.Event()

    def on_connect(c, userdata, flags, rc, props=None):  # type: ignore[no-untyped-def]
        c.subscribe(T.bridge_subscription(T.EVENTS), qos=1)

    def on_subscribe(c, *args):  # type: ignore[no-untyped-def]
        ready.set()

    def on_message(c, userdata, msg):  # type: ignore[no-untyped-def]
        parsed = T.parse_kiosk_topic(msg.topic)
        if parsed is None:
            return
        try:
            obj = json.loads(msg.payload)
            event_id = obj["event_id"]
            seq = obj["seq"]
        except (ValueError, KeyError, TypeError):
            return
        with lock:
            counts["received"] += 1
            stored.setdefault(event_id, seq)
            pending[(parsed[0], parsed[1])].append(event_id)

    def flusher() -> None:
        while True:
            time.sleep(ACK_FLUSH_S)
            with lock:
                batch = dict(pending)
                pending.clear()
            for (store, kiosk), ids in batch.items():
                topic = T.KioskTopics(store, kiosk).events_ack
                for i in range(0, len(ids), ACK_BATCH):
                    client.publish(topic, EventAck(acked=ids[i : i + ACK_BATCH]).encode(), qos=1)

    import time

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.on_socket_open = lambda c, u, sock: sock.setsockopt(
        socket.IPPROTO_TCP, socket.TCP_NODELAY, 1
    )
    client.connect("127.0.0.1", port, keepalive=30)
    client.loop_start()
    threading.Thread(target=flusher, daemon=True).start()
    ready.wait(10)
    print("ready", flush=True)
    for _line in sys.stdin:
        with lock:
            print(f"stored={len(stored)} received={counts['received']}", flush=True)
    client.loop_stop()


async def _serve(port: int, v311: bool) -> None:
    """Run a fake cloud until stdin closes; print the stored count on each line read."""
    import sys

    loop = asyncio.get_running_loop()
    protocol = aiomqtt.ProtocolVersion.V311 if v311 else aiomqtt.ProtocolVersion.V5
    async with FakeCloud(port, client_id="fake-cloud-proc", protocol=protocol) as cloud:
        print("ready", flush=True)
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                return
            print(f"stored={len(cloud.stored)} received={cloud.received}", flush=True)


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description="fake cloud ingest: store events by id and ack")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--v311", action="store_true", help="MQTT 3.1.1 (cheaper to parse in Python)")
    ap.add_argument("--fast", action="store_true", help="lean paho consumer (bench)")
    args = ap.parse_args()
    if args.fast:
        serve_fast(args.port)
    else:
        asyncio.run(_serve(args.port, args.v311))
