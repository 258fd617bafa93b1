"""MQTT ingest: kiosk events stored once and acked end to end; fleet state; RPC.

The bridge subscribes with MQTT 5 shared subscriptions (``$share/bridge/...``),
so several workers split the kiosks' traffic. Events are buffered briefly and
stored in batches (one transaction: ``INSERT ... ON CONFLICT DO NOTHING`` on the
event id, plus the orders and stock moves of the new ones); only after the
commit is an :class:`~contract.wire.EventAck` published per kiosk. A kiosk
resends what is not acked, so a worker that dies mid-batch loses nothing and a
resent event is acked again without a second effect. An event that cannot be
accepted is rejected with a reason and the kiosk dead-letters it.

Per-kiosk order: each batch applies its events sorted by ``(store, kiosk, seq)``
and the stored ``seq`` keeps the kiosk's order for every reader.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from pydantic import ValidationError
from sqlalchemy import case, select
from sqlalchemy.ext.asyncio import AsyncSession

from contract.wire import topics as T
from contract.wire.base import WireError, decode, validation_reason
from contract.wire.commands import CommandResult
from contract.wire.events import (
    EVENT_TYPES,
    ORDER_COMPLETED,
    Event,
    EventAck,
    OrderCompletedData,
    Rejection,
)
from contract.wire.presence import KioskStatus, Telemetry
from contract.wire.rpc import RpcRequest
from contract.wire.shadow import ShadowReported

from . import fleet, orders, rpc
from .config import load_secret
from .db import bulk_insert
from .models import Kiosk, StoredEvent, now
from .payments.providers.stored_value import apply_order_tenders

if TYPE_CHECKING:
    from .config import BridgeConfig
    from .db import Database

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
# On a clean stop the worker leaves the shared subscriptions first (so the broker
# stops routing a share of the kiosks' traffic to it), then stores and acks what
# it already holds, for at most this long.
STOP_DRAIN_S = 5.0

SUBSCRIBED_LEAVES = (T.EVENTS, T.STATUS, T.TELEMETRY, T.SHADOW_REPORTED, T.RPC_REQ, T.CMD_RES)


# --------------------------------------------------------------------------- storing events


@dataclass(slots=True)
class BatchResult:
    """What one batch did: ids to ack and rejections, per (store, kiosk)."""

    acked: dict[tuple[str, str], list[str]] = field(default_factory=lambda: defaultdict(list))
    rejected: dict[tuple[str, str], list[Rejection]] = field(
        default_factory=lambda: defaultdict(list))
    stored: int = 0
    duplicates: int = 0
    alerts: int = 0

    def acks(self) -> list[tuple[tuple[str, str], EventAck]]:
        keys = sorted(set(self.acked) | set(self.rejected))
        return [
            (k, EventAck(acked=self.acked.get(k, []), rejected=self.rejected.get(k, [])))
            for k in keys
        ]


def _event_id_of(payload: bytes) -> str | None:
    """Best effort: the event id of a payload that did not validate (for the rejection)."""
    try:
        obj = json.loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if isinstance(obj, dict) and isinstance(obj.get("event_id"), str):
        eid = obj["event_id"]
        return eid if 0 < len(eid) <= 64 else None
    return None


def validate_event(
    store: str, kiosk: str, payload: bytes
) -> tuple[Event | None, OrderCompletedData | None, Rejection | None]:
    """Decode one event from ``store``/``kiosk``'s topic; a rejection if it cannot be accepted."""
    try:
        ev = decode(Event, payload)
    except WireError as err:
        eid = _event_id_of(payload)
        if eid is None:
            log.warning("unreadable event from %s/%s dropped: %s", store, kiosk, err.reason)
            return None, None, None
        return None, None, Rejection(event_id=eid, reason=err.reason)
    if (ev.store, ev.kiosk) != (store, kiosk):
        return None, None, Rejection(
            event_id=ev.event_id,
            reason=f"event for {ev.store}/{ev.kiosk} published on {store}/{kiosk}'s topic")
    if ev.type not in EVENT_TYPES:
        return None, None, Rejection(event_id=ev.event_id, reason=f"unknown event type {ev.type!r}")
    data = None
    if ev.type == ORDER_COMPLETED:
        try:
            data = OrderCompletedData.model_validate(ev.data)
        except ValidationError as err:
            return None, None, Rejection(event_id=ev.event_id,
                                         reason=f"data.{validation_reason(err)}")
        problem = sale_arithmetic_problem(data)
        if problem is not None:
            log.warning("order.completed %s from %s/%s refused: %s", ev.event_id, store, kiosk,
                        problem)
            return None, None, Rejection(event_id=ev.event_id, reason=f"data.{problem}")
    return ev, data, None


def sale_arithmetic_problem(d: OrderCompletedData) -> str | None:
    """Why a sale's amounts do not add up (lines vs totals vs tenders), or ``None``.

    The kiosk's pricing and ``build_order`` guarantee these; a sale that breaks them
    is broken or forged and must not become revenue, stock moves or points.
    """
    for ln in d.lines:
        if ln.amount != ln.list_amount - ln.discount:
            return (f"lines.{ln.line_no}.amount: {ln.amount} is not list_amount "
                    f"{ln.list_amount} - discount {ln.discount}")
    subtotal = sum(ln.list_amount for ln in d.lines)
    if d.subtotal != subtotal:
        return f"subtotal: {d.subtotal} is not the lines' list amounts {subtotal}"
    discounts = sum(ln.discount for ln in d.lines)
    if d.discount_total != discounts:
        return f"discount_total: {d.discount_total} is not the lines' discounts {discounts}"
    if d.total != d.subtotal - d.discount_total:
        return f"total: {d.total} is not subtotal - discount_total {d.subtotal - d.discount_total}"
    for i, t in enumerate(d.tenders):
        if t.currency != d.currency:
            return f"tenders.{i}.currency: {t.currency} in a sale in {d.currency}"
    paid = sum(t.amount for t in d.tenders)
    if paid != d.total:
        return f"tenders: pay {paid}, the total is {d.total}"
    if d.points_earned < 0 or d.points_redeemed < 0:
        return "points_earned/points_redeemed: negative"
    for i, v in enumerate(d.vat):
        if min(v.gross, v.net, v.tax) < 0:
            return f"vat.{i}: negative amount"
    return None


def _same_event(a: bytes | str, b: bytes | str) -> bool:
    """Whether two payloads of one event id say the same (a resend, not a forgery)."""
    if a == b:
        return True
    try:
        return json.loads(a) == json.loads(b)
    except (ValueError, RecursionError):
        return False


async def store_events(
    db: Database,
    items: list[tuple[str, str, bytes]],
    *,
    worker: str,
    tz: str,
    retries: int = 5,
) -> BatchResult:
    """Store a batch of ``(store, kiosk, payload)`` events in one transaction.

    Returns the ids to ack (new and already stored alike) and the rejections.
    """
    result = BatchResult()
    valid: dict[str, tuple[Event, OrderCompletedData | None, bytes]] = {}
    for store, kiosk, payload in items:
        ev, data, rej = validate_event(store, kiosk, payload)
        if rej is not None:
            result.rejected[(store, kiosk)].append(rej)
        elif ev is None:
            continue
        elif ev.event_id not in valid:
            valid[ev.event_id] = (ev, data, payload)
        elif not _same_event(valid[ev.event_id][2], payload):
            result.rejected[(store, kiosk)].append(_conflicting(ev))
    if valid:
        ordered = sorted(valid.values(), key=lambda p: (p[0].store, p[0].kiosk, p[0].seq))
        conflicts: set[str] = set()

        async def work(session: AsyncSession) -> None:
            new_ids = await _insert_events(session, [(p[0], p[2]) for p in ordered], worker)
            conflicts.clear()
            conflicts.update(await _conflicting_resends(
                session, {p[0].event_id: p[2] for p in ordered if p[0].event_id not in new_ids}))
            sales = [orders.CompletedSale(ev, data) for ev, data, _ in ordered
                     if data is not None and ev.event_id in new_ids]
            alerts = await orders.record_kiosk_sales(session, sales, tz=tz, actor=worker)
            await apply_order_tenders(session, sales)  # offline stored value, same transaction
            await _advance_seq(session, [p[0] for p in ordered if p[0].event_id not in conflicts])
            result.stored = len(new_ids)
            result.alerts = len(alerts)

        await db.transact(work, retries=retries)
        result.duplicates = len(ordered) - result.stored - len(conflicts)
        for ev, _, _ in ordered:
            if ev.event_id in conflicts:
                result.rejected[(ev.store, ev.kiosk)].append(_conflicting(ev))
            else:
                result.acked[(ev.store, ev.kiosk)].append(ev.event_id)
    return result


def _conflicting(ev: Event) -> Rejection:
    """A different event under an id already taken: never acked as if it were stored."""
    log.error("event %s from %s/%s has the id of a different stored event; refused",
              ev.event_id, ev.store, ev.kiosk)
    return Rejection(event_id=ev.event_id,
                     reason="event id already stored with different content")


async def _conflicting_resends(session: AsyncSession, resent: dict[str, bytes]) -> set[str]:
    """Of events whose id was already stored, those whose stored payload differs."""
    if not resent:
        return set()
    rows = await session.execute(select(StoredEvent.event_id, StoredEvent.payload)
                                 .where(StoredEvent.event_id.in_(sorted(resent))))
    return {eid for eid, stored in rows.all() if not _same_event(stored, resent[eid])}


async def _insert_events(
    session: AsyncSession, events: list[tuple[Event, bytes]], worker: str
) -> set[str]:
    """Insert-or-nothing by event id; returns the ids that were new (stored exactly once)."""
    at = now()
    rows = [
        {"event_id": e.event_id, "store": e.store, "kiosk": e.kiosk, "seq": e.seq,
         "type": e.type, "ts": e.ts, "received_at": at, "worker": worker,
         # The bytes as the kiosk signed them off, not a re-encoding.
         "payload": raw.decode("utf-8")}
        for e, raw in events
    ]
    stmt, params = bulk_insert(session, StoredEvent, rows)
    stmt = stmt.on_conflict_do_nothing(index_elements=[StoredEvent.event_id]).returning(
        StoredEvent.event_id)
    return set((await session.scalars(stmt, params)).all())


async def _advance_seq(session: AsyncSession, events: list[Event]) -> None:
    """Highest seq seen per kiosk (the fleet view and gap checks read it)."""
    if not events:
        return
    top: dict[tuple[str, str], int] = {}
    for e in events:
        key = (e.store, e.kiosk)
        top[key] = max(top.get(key, -1), e.seq)
    rows = [{"store": s, "kiosk": k, "state": "unknown", "last_seq": q, "last_seen": now()}
            for (s, k), q in sorted(top.items())]
    stmt, params = bulk_insert(session, Kiosk, rows)
    new = stmt.excluded.last_seq
    stmt = stmt.on_conflict_do_update(
        index_elements=[Kiosk.store, Kiosk.kiosk],
        set_={
            "last_seq": case((Kiosk.last_seq.is_(None), new), (new > Kiosk.last_seq, new),
                             else_=Kiosk.last_seq),
            "last_seen": stmt.excluded.last_seen,
        },
    )
    await session.execute(stmt, params)


async def apply_fleet_message(
    session: AsyncSession, store: str, kiosk: str, leaf: str, payload: bytes
) -> None:
    """Apply one status / telemetry / shadow reported / command result message."""
    try:
        if leaf == T.STATUS:
            await fleet.apply_status(session, store, kiosk, decode(KioskStatus, payload))
        elif leaf == T.TELEMETRY:
            await fleet.apply_telemetry(session, store, kiosk, decode(Telemetry, payload))
        elif leaf == T.SHADOW_REPORTED:
            await fleet.apply_reported(session, store, kiosk, decode(ShadowReported, payload))
        elif leaf == T.CMD_RES:
            await fleet.record_command_result(session, store, kiosk,
                                              decode(CommandResult, payload))
    except WireError as err:
        log.warning("bad %s message from %s/%s: %s", leaf, store, kiosk, err.reason)


# --------------------------------------------------------------------------- MQTT worker


@dataclass(slots=True)
class IngestStats:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    batches: int = 0
    acks_published: int = 0
    rpc_served: int = 0
    connects: int = 0


class Ingest:
    """The bridge's MQTT client: an async context manager running the reconnect loop."""

    def __init__(self, config: BridgeConfig, db: Database, *,
                 extras: dict[str, Any] | None = None) -> None:
        self.config = config
        self.db = db
        self.extras = extras if extras is not None else {}
        self.stats = IngestStats()
        self.connected = asyncio.Event()
        self._client: aiomqtt.Client | None = None
        self._task: asyncio.Task | None = None
        self._rpc_slots = asyncio.Semaphore(config.rpc.concurrency)
        self.worker = config.bridge.worker_id
        self._idle = asyncio.Event()  # set while no event is buffered, stored or unacked
        self._idle.set()
        self._in_hand = 0  # batches taken from the queue whose acks are not yet published
        self.client_id = config.mqtt.client_id or self.worker

    async def __aenter__(self) -> Ingest:
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

    def _client_kwargs(self) -> dict[str, Any]:
        m = self.config.mqtt
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = m.session_expiry_s
        kwargs: dict[str, Any] = {
            "hostname": m.host, "port": m.port, "identifier": self.client_id,
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

    async def run(self) -> None:
        """aiomqtt's documented outer reconnect loop, with capped, jittered backoff."""
        m = self.config.mqtt
        pending_limit = 2 * ACK_WINDOW + self.config.rpc.concurrency
        delay = m.reconnect_min_s
        while True:
            try:
                async with aiomqtt.Client(**self._client_kwargs()) as client:
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
        fleet_q: asyncio.Queue[tuple[str, str, str, bytes]] = asyncio.Queue()
        stored: asyncio.Queue[BatchResult] = asyncio.Queue(ACK_BACKLOG)
        workers = [asyncio.create_task(self._batcher(events, stored)),
                   asyncio.create_task(self._ack_publisher(client, events, stored)),
                   asyncio.create_task(self._fleet_writer(fleet_q))]
        rpc_tasks: set[asyncio.Task] = set()
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
                    await events.put((store, kiosk, payload))
                elif leaf == T.RPC_REQ:
                    task = asyncio.create_task(
                        self._serve_rpc(client, store, kiosk, payload, msg.properties))
                    rpc_tasks.add(task)
                    task.add_done_callback(rpc_tasks.discard)
                else:
                    fleet_q.put_nowait((store, kiosk, leaf, payload))
        finally:
            # Buffered, unacked events are dropped on purpose: the kiosks resend them.
            self._in_hand = 0
            pending = [*workers, *rpc_tasks]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    def _check_idle(self, queue: asyncio.Queue) -> None:
        if queue.empty() and self._in_hand == 0:
            self._idle.set()

    async def _batcher(self, queue: asyncio.Queue[tuple[str, str, bytes]],
                       stored: asyncio.Queue[BatchResult]) -> None:
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
                                            tz=self.config.bridge.timezone, retries=cfg.retries)
            except Exception:
                # Nothing is acked; the kiosks resend and the next batch tries again.
                log.exception("storing a batch of %d events failed", len(batch))
                self._in_hand -= 1
                continue
            self.stats.batches += 1
            self.stats.stored += result.stored
            self.stats.duplicates += result.duplicates
            self.stats.rejected += sum(len(v) for v in result.rejected.values())
            # Committed: acks go out while the next batch is stored.
            await stored.put(result)

    async def _ack_publisher(self, client: aiomqtt.Client,
                             queue: asyncio.Queue[tuple[str, str, bytes]],
                             stored: asyncio.Queue[BatchResult]) -> None:
        while True:
            result = await stored.get()
            try:
                await self._publish_acks(client, result)
            except aiomqtt.MqttError as err:
                log.warning("acks not published (%s); the kiosks will resend", err)
            finally:
                self._in_hand -= 1
                self._check_idle(queue)

    async def _publish_acks(self, client: aiomqtt.Client, result: BatchResult) -> None:
        acks = result.acks()
        for i in range(0, len(acks), ACK_WINDOW):
            chunk = acks[i : i + ACK_WINDOW]
            await asyncio.gather(*(
                client.publish(T.KioskTopics(s, k).events_ack, ack.encode(), qos=1)
                for (s, k), ack in chunk
            ))
            self.stats.acks_published += len(chunk)

    async def _fleet_writer(self, queue: asyncio.Queue[tuple[str, str, str, bytes]]) -> None:
        while True:
            batch = [await queue.get()]
            while len(batch) < FLEET_BATCH and not queue.empty():
                batch.append(queue.get_nowait())
            # Telemetry is periodic: only the newest per kiosk matters.
            latest: dict[tuple[str, str], int] = {}
            for i, (s, k, leaf, _) in enumerate(batch):
                if leaf == T.TELEMETRY:
                    latest[(s, k)] = i
            keep = [item for i, item in enumerate(batch)
                    if item[2] != T.TELEMETRY or latest[(item[0], item[1])] == i]
            keep.sort(key=lambda it: (it[0], it[1]))

            async def work(session: AsyncSession, keep: list = keep) -> None:
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
        async with self._rpc_slots:
            try:
                req = decode(RpcRequest, payload)
            except WireError as err:
                rid = None
                with contextlib.suppress(Exception):
                    obj = json.loads(payload)
                    rid = obj.get("id") if isinstance(obj, dict) else None
                if not isinstance(rid, str) or not 0 < len(rid) <= 64:
                    log.warning("unreadable rpc request from %s/%s: %s", store, kiosk, err.reason)
                    return
                reply = rpc.error_response(rid, rpc.BAD_REQUEST, err.reason)
            else:
                ctx = rpc.RpcContext(store=store, kiosk=kiosk, request_id=req.id,
                                     method=req.method, deadline=req.deadline, db=self.db,
                                     config=self.config, publish=self.publish, extras=self.extras)
                reply = await rpc.dispatch(ctx, req)
            props = Properties(PacketTypes.PUBLISH)
            corr = getattr(properties, "CorrelationData", None) if properties else None
            props.CorrelationData = corr if corr else reply.id.encode()
            try:
                await client.publish(T.KioskTopics(store, kiosk).rpc_res, reply.encode(), qos=1,
                                     properties=props)
                self.stats.rpc_served += 1
            except aiomqtt.MqttError as err:
                log.warning("rpc reply to %s/%s lost: %s", store, kiosk, err)
