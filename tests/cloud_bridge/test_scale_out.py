"""Two bridge worker processes share the subscription; one is killed mid-stream; nothing is lost.

The kiosk side is simulated like the link does it: publish QoS 1, keep every
event until its end-to-end ack, resend what is not acked after a timeout.
"""

from __future__ import annotations

import asyncio
import time

import aiomqtt
import requests
from sqlalchemy import func, select

from cloud_bridge.db import Database
from cloud_bridge.models import Order, Stock, StoredEvent
from contract.wire import KioskTopics
from contract.wire.base import decode
from contract.wire.events import EventAck

from .bridge_helpers import order_event
from .bridge_process import BridgeProcess, write_config

KIOSKS = 6
EVENTS_PER_KIOSK = 60
# The link's ack timeout, shrunk for the test: unacked events are resent after this.
RESEND_AFTER_S = 0.6
WINDOW = 50  # events in flight per kiosk, like the link's bounded window
DEADLINE_S = 40.0


def wait_mqtt(proc: BridgeProcess) -> None:
    deadline = time.monotonic() + 15
    while True:
        try:
            if requests.get(proc.url + "/api/v1/health", timeout=2).json()["mqtt"] is True:
                return
        except requests.RequestException:
            pass
        assert time.monotonic() < deadline, "worker did not connect to the broker"
        time.sleep(0.05)


async def run_kiosks(port: int, on_progress) -> dict[str, int]:
    """Publish every event until acked; returns sends per event id."""
    events = {}
    for k in range(KIOSKS):
        for seq in range(EVENTS_PER_KIOSK):
            ev = order_event("s1", f"k{k}", seq, lines=[("p-1", 1, 100)])
            events[ev.event_id] = (KioskTopics("s1", f"k{k}"), ev.encode())
    sends = dict.fromkeys(events, 0)
    pending: dict[str, float] = {}  # event id -> last sent (monotonic)
    acked: set[str] = set()
    rejected: list = []
    order = list(events)
    async with aiomqtt.Client("127.0.0.1", port, identifier="sim-kiosks",
                              protocol=aiomqtt.ProtocolVersion.V5) as client:
        for k in range(KIOSKS):
            await client.subscribe(KioskTopics("s1", f"k{k}").events_ack, qos=1)

        async def reader() -> None:
            async for msg in client.messages:
                ack = decode(EventAck, msg.payload)
                if ack.rejected:
                    rejected.extend(ack.rejected)
                for eid in ack.acked:
                    pending.pop(eid, None)
                    acked.add(eid)
                await on_progress(len(acked))

        task = asyncio.create_task(reader())
        try:
            loop = asyncio.get_running_loop()
            end = loop.time() + DEADLINE_S
            nxt = 0
            while len(acked) < len(events):
                assert not rejected, rejected[:3]
                assert loop.time() < end, f"only {len(acked)}/{len(events)} acked"
                now = time.monotonic()
                due = [eid for eid, at in pending.items() if now - at > RESEND_AFTER_S]
                while nxt < len(order) and len(pending) + len(due) < WINDOW * KIOSKS:
                    due.append(order[nxt])
                    nxt += 1
                for eid in due:
                    if eid in acked:
                        continue
                    topics, payload = events[eid]
                    pending[eid] = time.monotonic()
                    sends[eid] += 1
                    await client.publish(topics.events, payload, qos=1)
                await asyncio.sleep(0.02)
        finally:
            task.cancel()
    return sends


def test_two_workers_exactly_once_with_a_kill(tmp_path, broker, db_url):
    workers = []
    for name in ("wa", "wb"):
        cfg = write_config(tmp_path / f"{name}.toml", db_url=db_url, worker=name,
                           mqtt_port=broker.port, sandbox=False)
        workers.append(BridgeProcess(cfg, tmp_path / f"{name}.log").start())
    try:
        for w in workers:
            wait_mqtt(w)
        killed = {"at": None}

        async def drive() -> dict[str, int]:
            async with Database(db_url) as db:

                async def on_progress(n: int) -> None:
                    # SIGKILL mid-stream, once a third is acked and wb has stored some of
                    # its share (on a loaded machine its first batch can come late): its
                    # buffered events are never acked.
                    if killed["at"] is not None or n < KIOSKS * EVENTS_PER_KIOSK // 3:
                        return
                    async with db.session() as s:
                        by_wb = await s.scalar(select(func.count()).select_from(StoredEvent)
                                               .where(StoredEvent.worker == "wb"))
                    if by_wb:
                        workers[1].kill()
                        killed["at"] = n

                return await run_kiosks(broker.port, on_progress)

        sends = asyncio.run(drive())
        assert killed["at"] is not None
        assert workers[0].proc.poll() is None, (tmp_path / "wa.log").read_text()
    finally:
        for w in workers:
            w.stop()

    async def check() -> tuple[int, int, int, dict[str, int]]:
        async with Database(db_url) as db, db.session() as s:
            n_events = await s.scalar(select(func.count()).select_from(StoredEvent))
            n_orders = await s.scalar(select(func.count()).select_from(Order))
            stock = await s.get(Stock, ("s1", "p-1"))
            per_worker = dict((await s.execute(
                select(StoredEvent.worker, func.count()).group_by(StoredEvent.worker))).all())
            return n_events, n_orders, stock.on_hand, per_worker

    n_events, n_orders, on_hand, per_worker = asyncio.run(check())
    total = KIOSKS * EVENTS_PER_KIOSK
    assert n_events == total and n_orders == total
    assert on_hand == -total  # one unit per sale: no sale counted twice
    assert set(per_worker) == {"wa", "wb"}, per_worker  # the load was shared
    # The killed worker's unacked events were resent and stored once by the survivor.
    assert max(sends.values()) > 1
