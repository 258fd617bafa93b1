"""Ingest worker: the bridge's MQTT client, batching events into storage and acking them.

Shared subscriptions split the kiosks' traffic between workers; see the package
docstring for the store-then-ack contract. Storage is :mod:`.storage`, fleet
messages :mod:`.fleet_messages`, RPC :mod:`.rpc_server`.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import math
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Required, TypedDict

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy.ext.asyncio import AsyncSession

from contract.wire import topics as T

from ..config import MqttSection, load_secret
from .fleet_messages import apply_fleet_message, latest_telemetry_only
from .mqtt_client import BridgeMqttClient
from .mqtt_properties import share_property_tables
from .rpc_server import RpcServer
from .storage import BatchResult, store_events

if TYPE_CHECKING:
    from ..config import BridgeConfig
    from ..db import Database
    from ..services import BridgeServices

log = logging.getLogger(__name__)

# Acks are published with a bounded number in flight: aiomqtt stalls when
# thousands of publishes are awaited at once (DESIGN.md).
ACK_WINDOW = 100
# Stored batches whose acks wait to be published: the next batch is stored while
# the previous one's acks go out; a small bound keeps a slow broker from letting
# committed-but-unacked batches pile up (the kiosks would resend them anyway).
ACK_BACKLOG = 4
# Fleet messages (status, telemetry, reported) drained per transaction.
FLEET_BATCH = 500
# Fleet messages waiting for the writer: a few batches. Beyond it telemetry is shed
# and the rest waits (MQTT flow control), so a telemetry storm cannot grow memory.
FLEET_QUEUE_MAX = 4 * FLEET_BATCH
# On a clean stop the worker leaves the shared subscriptions first (so the broker
# stops routing a share of the kiosks' traffic to it), then stores and acks what
# it already holds, for at most this long.
STOP_DRAIN_S = 5.0

_heap_frozen = False


def freeze_startup_heap() -> None:
    """Take what the process holds at start (modules, models, mappers, validators, the
    app) out of the cyclic garbage collector's view, once per process.

    The bridge imports every domain: a few hundred thousand long-lived objects that
    each full collection walked again while events streamed in. Measured in the ingest
    bench (100 kiosks x 40 events, PostgreSQL, a loaded machine), the collector took
    9.5 s of the bridge's time, 7.9 s of it in 12 full collections; with the heap frozen
    after a collection at start, 6.4 s and 4.8 s. Objects made later are collected as
    before; once per process, so a test session's later bridges do not pin its garbage.
    """
    global _heap_frozen
    if not _heap_frozen:
        _heap_frozen = True
        gc.collect()
        gc.freeze()


SUBSCRIBED_LEAVES = (T.EVENTS, T.STATUS, T.TELEMETRY, T.SHADOW_REPORTED, T.RPC_REQ, T.CMD_RES,
                     T.STAFF_CALL)


# --------------------------------------------------------------------------- MQTT worker


@dataclass(slots=True)
class IngestStats:
    """Counters of one worker since it started (the bench and tests read them)."""

    received: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    batches: int = 0
    acks_published: int = 0
    coalesced: int = 0  # resends dropped: the same event was buffered and not yet acked
    rpc_served: int = 0
    rpc_dropped: int = 0  # requests beyond rpc.concurrency in flight
    fleet_dropped: int = 0  # telemetry shed while the fleet queue was full
    connects: int = 0


class MqttClientArgs(TypedDict, total=False):
    """The ``aiomqtt.Client`` arguments the bridge sets."""

    hostname: Required[str]
    port: int
    identifier: str
    protocol: aiomqtt.ProtocolVersion
    keepalive: int
    clean_start: bool
    properties: Properties | None
    timeout: float
    username: str
    password: str | None
    tls_params: aiomqtt.TLSParameters


def mqtt_client_kwargs(m: MqttSection, client_id: str) -> MqttClientArgs:
    """aiomqtt.Client arguments for the bridge's broker, account and TLS (MQTT v5)."""
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = m.session_expiry_s
    kwargs: MqttClientArgs = {
        "hostname": m.host, "port": m.port, "identifier": client_id,
        "protocol": aiomqtt.ProtocolVersion.V5, "keepalive": m.keepalive_s,
        "clean_start": m.session_expiry_s == 0, "properties": props,
        "timeout": 10,
    }
    if m.username:
        kwargs["username"] = m.username
        kwargs["password"] = load_secret("mqtt_password")
    if m.tls.ca_file:
        kwargs["tls_params"] = aiomqtt.TLSParameters(
            ca_certs=str(m.tls.ca_file),
            certfile=str(m.tls.cert_file) if m.tls.cert_file else None,
            keyfile=str(m.tls.key_file) if m.tls.key_file else None,
        )
    return kwargs


class Ingest:
    """The bridge's MQTT client: an async context manager running the reconnect loop."""

    def __init__(self, config: BridgeConfig, db: Database, *,
                 services: BridgeServices | None = None) -> None:
        self.config = config
        self.db = db
        self.services = services
        self.stats = IngestStats()
        self.connected = asyncio.Event()
        self._client: aiomqtt.Client | None = None
        self._task: asyncio.Task[None] | None = None
        self._rpc = RpcServer(config, db, publish=self.publish, services=services)
        self.worker = config.bridge.worker_id
        self._idle = asyncio.Event()  # set while no event is buffered, stored or unacked
        self._idle.set()
        self._in_hand = 0  # batches taken from the queue whose acks are not yet published
        # Events received and not yet acked (or failed), as they were queued: a kiosk's
        # resend of one of them is dropped on arrival (see _serve).
        self._buffered: set[tuple[str, str, bytes]] = set()
        self.client_id = config.mqtt.client_id or self.worker
        # The member part of every sale is checked again with the chain's member key.
        from ..security.member_sales import MemberSaleCheck

        self.member_check = MemberSaleCheck.from_config(config)

    async def __aenter__(self) -> Ingest:
        freeze_startup_heap()
        share_property_tables()
        self._task = asyncio.create_task(self.run(), name="bridge-ingest")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def stop(self) -> None:
        """Leave the shared subscriptions, drain buffered events, then disconnect."""
        client = self._client
        if client is not None and self._task is not None:
            try:
                async with asyncio.timeout(STOP_DRAIN_S):
                    for leaf in SUBSCRIBED_LEAVES:
                        await client.unsubscribe(
                            T.bridge_subscription(leaf, shared=self.config.mqtt.shared))
                    await self._idle.wait()
            except (TimeoutError, aiomqtt.MqttError) as err:
                log.warning("stopping without a full drain: %s", err or "timeout")
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _client_kwargs(self) -> MqttClientArgs:
        return mqtt_client_kwargs(self.config.mqtt, self.client_id)

    async def run(self) -> None:
        """aiomqtt's documented outer reconnect loop, with capped, jittered backoff."""
        m = self.config.mqtt
        pending_limit = 2 * ACK_WINDOW + self.config.rpc.concurrency
        delay = m.reconnect_min_s
        while True:
            try:
                async with BridgeMqttClient(**self._client_kwargs()) as client:
                    # Our acks and RPC replies are bounded (ACK_WINDOW, rpc.concurrency);
                    # only warn about pending publishes beyond what we allow ourselves.
                    client.pending_calls_threshold = pending_limit
                    self._client = client
                    self.stats.connects += 1
                    delay = m.reconnect_min_s
                    await self._serve(client)
            except aiomqtt.MqttError as err:
                log.warning("MQTT connection lost (%s); reconnecting in %.1f s", err, delay)
            finally:
                self._client = None
                self.connected.clear()
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, m.reconnect_max_s)

    async def _serve(self, client: aiomqtt.Client) -> None:
        shared = self.config.mqtt.shared
        for leaf in SUBSCRIBED_LEAVES:
            await client.subscribe(T.bridge_subscription(leaf, shared=shared), qos=1)
        log.info("bridge %s subscribed (shared=%s)", self.client_id, shared)
        self.connected.set()
        events: asyncio.Queue[tuple[str, str, bytes]] = asyncio.Queue(self.config.ingest.queue_max)
        fleet_q: asyncio.Queue[tuple[str, str, str, bytes]] = asyncio.Queue(FLEET_QUEUE_MAX)
        stored: asyncio.Queue[tuple[BatchResult, list[tuple[str, str, bytes]]]] = (
            asyncio.Queue(ACK_BACKLOG))
        buffered = self._buffered = set()
        workers = [asyncio.create_task(self._batcher(events, stored)),
                   asyncio.create_task(self._ack_publisher(client, events, stored)),
                   asyncio.create_task(self._fleet_writer(fleet_q))]
        rpc_tasks: set[asyncio.Task[None]] = set()
        try:
            async for msg in client.messages:
                parsed = T.parse_kiosk_topic(msg.topic.value)
                if parsed is None:
                    continue
                store, kiosk, leaf = parsed
                payload = msg.payload if isinstance(msg.payload, bytes) else str(
                    msg.payload).encode()
                if leaf == T.EVENTS:
                    self.stats.received += 1
                    item = (store, kiosk, payload)
                    if item in buffered:
                        # A kiosk resends what is not acked within its ack timeout; when a
                        # backlog is longer than that, every waiting event arrives again.
                        # The same bytes from the same kiosk are the same event, already
                        # queued here: its batch's ack answers both. Dropping the copy
                        # spares it the validation, the database round and an ack.
                        self.stats.coalesced += 1
                        continue
                    buffered.add(item)
                    await events.put(item)
                elif leaf == T.RPC_REQ:
                    if not self._rpc.reserve():  # bounded before any task exists
                        self.stats.rpc_dropped += 1
                        log.warning("rpc request from %s/%s dropped: %d in flight", store,
                                    kiosk, self._rpc.in_flight)
                        continue
                    task = asyncio.create_task(
                        self._serve_rpc(client, store, kiosk, payload, msg.properties))
                    rpc_tasks.add(task)
                    task.add_done_callback(rpc_tasks.discard)
                elif fleet_q.full() and leaf == T.TELEMETRY:
                    # Periodic and superseded by the next one: shed it, never queue it.
                    self.stats.fleet_dropped += 1
                else:
                    await fleet_q.put((store, kiosk, leaf, payload))  # back-pressure
        finally:
            # Buffered, unacked events are dropped on purpose: the kiosks resend them.
            self._in_hand = 0
            buffered.clear()
            pending = [*workers, *rpc_tasks]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    def _check_idle(self, queue: asyncio.Queue[tuple[str, str, bytes]]) -> None:
        if queue.empty() and self._in_hand == 0:
            self._idle.set()

    async def _batcher(
        self, queue: asyncio.Queue[tuple[str, str, bytes]],
        stored: asyncio.Queue[tuple[BatchResult, list[tuple[str, str, bytes]]]],
    ) -> None:
        cfg = self.config.ingest
        loop = asyncio.get_running_loop()
        while True:
            self._check_idle(queue)
            batch = [await queue.get()]
            self._idle.clear()
            self._in_hand += 1
            deadline = loop.time() + cfg.batch_wait_ms / 1000
            while len(batch) < cfg.batch_max:
                try:
                    batch.append(queue.get_nowait())
                    continue
                except asyncio.QueueEmpty:
                    pass
                left = deadline - loop.time()
                if left <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(queue.get(), left))
                except TimeoutError:
                    break
            try:
                result = await store_events(self.db, batch, worker=self.worker,
                                            tz=self.config.bridge.timezone, retries=cfg.retries,
                                            member_check=self.member_check)
            except Exception:
                # Nothing is acked; the kiosks resend and the next batch tries again.
                log.exception("storing a batch of %d events failed", len(batch))
                self._buffered.difference_update(batch)  # their resends are stored anew
                self._in_hand -= 1
                continue
            self.stats.batches += 1
            self.stats.stored += result.stored
            self.stats.duplicates += result.duplicates
            self.stats.rejected += sum(len(v) for v in result.rejected.values())
            # Committed: acks go out while the next batch is stored.
            await stored.put((result, batch))

    async def _ack_publisher(
        self, client: aiomqtt.Client, queue: asyncio.Queue[tuple[str, str, bytes]],
        stored: asyncio.Queue[tuple[BatchResult, list[tuple[str, str, bytes]]]],
    ) -> None:
        while True:
            result, batch = await stored.get()
            try:
                await self._publish_acks(client, result)
            except (aiomqtt.MqttError, TimeoutError) as err:
                log.warning("acks not published (%s); the kiosks will resend",
                            err or "no PUBACK in time")
            finally:
                # Acked (or the ack is lost with the link): a resend from now on is
                # stored again, a duplicate acked again, as any resend.
                self._buffered.difference_update(batch)
                self._in_hand -= 1
                self._check_idle(queue)

    async def _publish_acks(self, client: aiomqtt.Client, result: BatchResult) -> None:
        acks = result.acks()
        for i in range(0, len(acks), ACK_WINDOW):
            chunk = acks[i : i + ACK_WINDOW]
            # One deadline for the chunk (the client's timeout, as each publish had): a
            # deadline per publish made aiomqtt wrap each PUBACK wait in a task and a timer
            # of its own, 12% of a QoS 1 publish's CPU (97-110 against 114-124 us measured
            # here), and at 1,000+ kiosks a batch publishes about one ack per event.
            async with asyncio.timeout(None if client.timeout == math.inf else client.timeout):
                await asyncio.gather(*(
                    client.publish(T.KioskTopics(s, k).events_ack, ack.encode(), qos=1,
                                   timeout=math.inf)
                    for (s, k), ack in chunk
                ))
            self.stats.acks_published += len(chunk)

    async def _fleet_writer(self, queue: asyncio.Queue[tuple[str, str, str, bytes]]) -> None:
        while True:
            batch = [await queue.get()]
            while len(batch) < FLEET_BATCH and not queue.empty():
                batch.append(queue.get_nowait())
            keep = latest_telemetry_only(batch)

            async def work(session: AsyncSession,
                           keep: list[tuple[str, str, str, bytes]] = keep) -> None:
                for store, kiosk, leaf, payload in keep:
                    await apply_fleet_message(session, store, kiosk, leaf, payload)

            try:
                await self.db.transact(work)
            except Exception:
                log.exception("storing %d fleet messages failed", len(keep))

    async def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False,
                      properties: Properties | None = None) -> None:
        """Publish through the current connection (commands, shadow, RPC handlers)."""
        client = self._client
        if client is None:
            raise aiomqtt.MqttError("not connected to the broker")
        await client.publish(topic, payload, qos=qos, retain=retain, properties=properties)

    async def _serve_rpc(self, client: aiomqtt.Client, store: str, kiosk: str, payload: bytes,
                         properties: Properties | None) -> None:
        if await self._rpc.serve(client, store, kiosk, payload, properties):
            self.stats.rpc_served += 1
