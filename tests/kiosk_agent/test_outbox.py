"""Outbox delivery against a real Mosquitto and the real journal."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from pathlib import Path

import pytest

from contract.wire.events import EventAck
from demo.fake_cloud import FakeCloud
from kiosk_agent import outbox as outbox_mod
from kiosk_agent.config import OfflineSection, OutboxSection
from kiosk_agent.journal import Journal
from kiosk_agent.link import Link
from kiosk_agent.outbox import OutboxDrainer
from tests.support.link_helpers import mqtt_section, shrink_timings
from tests.support.waiting import until


@pytest.fixture(autouse=True)
def _fast(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shrink the link's timing constants."""
    shrink_timings(monkeypatch)


def _events(n: int, start: int = 0) -> list[tuple[str, dict]]:
    return [("device.fault", {"n": i}) for i in range(start, start + n)]


async def test_events_delivered_once_and_deleted_only_after_ack(broker, journal: Journal) -> None:
    await journal.append_events(_events(50))
    async with FakeCloud(broker.port, ack=False) as cloud:
        async with Link(mqtt_section(broker.port), "store1", "kiosk1") as link:
            async with OutboxDrainer(journal, link, OutboxSection(window=8, ack_timeout_s=30)) as ob:
                await cloud.wait_stored(8)
                # The drainer has sent what the window allows and waits for acks.
                await asyncio.wait_for(ob._idle.wait(), 5)
                # Not acked: nothing deleted, and the window holds the rest back.
                assert (await journal.outbox_stats()).depth == 50
                assert len(ob.inflight) == 8
                assert cloud.received == 8
                cloud.ack = True
                # Ack what was received; the rest flows as slots free up.
                for eid in list(cloud.stored):
                    cloud._acks[("store1", "kiosk1")].acked.append(eid)
                await cloud.flush()
                await cloud.wait_stored(50)
                await ob.wait_idle()
    assert sorted(e.seq for e in cloud.stored.values()) == list(range(50))
    assert (await journal.outbox_stats()).depth == 0


async def test_acks_gathered_while_in_flight_and_stored_at_once_after_the_last(
    broker, journal: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox_mod, "ACK_GATHER_S", 3600.0)  # only the other two triggers
    ids = await journal.append_events(_events(3))
    stored: list[list[str]] = []
    real_ack = journal.outbox_ack

    async def spy(event_ids: list[str]) -> int:
        stored.append(list(event_ids))
        return await real_ack(event_ids)

    monkeypatch.setattr(journal, "outbox_ack", spy)
    async with FakeCloud(broker.port, ack=False) as cloud:
        async with Link(mqtt_section(broker.port), "store1", "kiosk1") as link:
            async with OutboxDrainer(journal, link, OutboxSection(window=8, ack_timeout_s=30)) as ob:
                await cloud.wait_stored(3)
                ob.handle_ack(EventAck(acked=[ids[0]]))
                ob.handle_ack(EventAck(acked=[ids[1]]))
                for _ in range(20):
                    await asyncio.sleep(0)
                # Two acked, one still in flight: held for one transaction with the rest.
                assert stored == [] and (await journal.outbox_stats()).depth == 3
                ob.handle_ack(EventAck(acked=[ids[2]]))  # nothing left in flight
                await ob.wait_idle()
    assert stored == [ids]
    assert (await journal.outbox_stats()).depth == 0


async def test_in_order_per_kiosk(broker, journal: Journal) -> None:
    await journal.append_events(_events(300))
    async with FakeCloud(broker.port) as cloud:
        arrivals: list[int] = []  # the seq of every event publish, resends included
        orig = cloud._on_message

        async def spy(msg):
            with contextlib.suppress(ValueError, KeyError, TypeError):
                arrivals.append(json.loads(msg.payload)["seq"])
            await orig(msg)

        cloud._on_message = spy  # installed before the kiosk publishes anything
        async with Link(mqtt_section(broker.port), "store1", "kiosk1") as link:
            async with OutboxDrainer(journal, link, OutboxSection(window=32, batch=50)) as ob:
                await cloud.wait_stored(300)
                await ob.wait_idle()
    seqs = [e.seq for e in cloud.stored.values()]  # dict keeps arrival order
    assert seqs == sorted(seqs)
    first_arrivals = list(dict.fromkeys(arrivals))
    assert first_arrivals == list(range(300)) and len(arrivals) == cloud.received


async def test_unacked_event_resent_after_timeout(broker, journal: Journal) -> None:
    await journal.append_events(_events(3))
    async with FakeCloud(broker.port, ack=False) as cloud:
        async with Link(mqtt_section(broker.port), "store1", "kiosk1") as link:
            async with OutboxDrainer(journal, link, OutboxSection(ack_timeout_s=0.3)) as ob:
                await cloud.wait_stored(3)
                await until(lambda: cloud.received >= 6, what="each event sent again")
                assert cloud.received >= 6  # each sent again
                assert ob.resent >= 3
                cloud.ack = True
                cloud._dirty.set()
                for eid in cloud.stored:
                    cloud._acks[("store1", "kiosk1")].acked.append(eid)
                await ob.wait_idle()
    assert len(cloud.stored) == 3


async def test_publish_refused_by_the_client_stays_in_flight_and_is_resent(
    broker, journal: Journal, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    await journal.append_events(_events(3))
    async with FakeCloud(broker.port) as cloud:
        async with Link(mqtt_section(broker.port), "store1", "kiosk1") as link:
            real = link.publish_nowait
            refused: list[bytes] = []

            def first_refused(topic: str, payload: bytes, qos: int = 1) -> None:
                if not refused:
                    refused.append(payload)
                    raise ValueError("Payload too large.")
                real(topic, payload, qos)

            monkeypatch.setattr(link, "publish_nowait", first_refused)
            async with OutboxDrainer(journal, link, OutboxSection(ack_timeout_s=0.3)) as ob:
                await ob.wait_idle()
                assert ob.resent >= 1
    assert sorted(e.seq for e in cloud.stored.values()) == [0, 1, 2]
    assert (await journal.outbox_stats()).depth == 0
    assert "event publish refused: Payload too large." in caplog.text


async def test_rejected_event_dead_lettered_and_does_not_block(broker, journal: Journal) -> None:
    ids = await journal.append_events(_events(20))
    poison = ids[2]
    async with FakeCloud(
        broker.port, reject=lambda e: "unknown product" if e.event_id == poison else None
    ) as cloud:
        async with Link(mqtt_section(broker.port), "store1", "kiosk1") as link:
            async with OutboxDrainer(journal, link, OutboxSection(window=1)) as ob:
                await cloud.wait_stored(20)
                await ob.wait_idle()
    dead = await journal.dead_letters()
    assert [d.event_id for d in dead] == [poison]
    assert dead[0].reason == "unknown product"
    assert len(cloud.stored) == 19


async def test_broker_killed_mid_drain_every_event_stored_once(
    broker, journal: Journal
) -> None:
    n = 3000
    await journal.append_events(_events(n))
    async with FakeCloud(broker.port) as cloud:
        async with Link(mqtt_section(broker.port), "store1", "kiosk1") as link:
            async with OutboxDrainer(
                journal, link, OutboxSection(window=64, ack_timeout_s=2.0)
            ) as ob:
                await cloud.wait_stored(n // 4)
                broker.kill()  # SIGKILL: whatever the broker held in memory is gone
                stored_at_kill = len(cloud.stored)
                # Down until the kiosk's link has noticed, so the drain really is cut.
                await until(lambda: not link.connected.is_set(), what="link down")
                broker.start()
                await cloud.wait_stored(n, timeout=30)
                await ob.wait_idle(timeout=20)
    assert stored_at_kill < n
    assert sorted(e.seq for e in cloud.stored.values()) == list(range(n))
    # Duplicates reached the consumer and were deduped by id, none lost.
    assert cloud.received >= n
    assert (await journal.outbox_stats()).depth == 0
    logging.getLogger(__name__).info("published=%d received=%d", ob.published, cloud.received)


async def test_ten_thousand_queued_offline_delivered_when_link_returns(
    broker, tmp_path: Path
) -> None:
    broker.stop()
    async with Journal(tmp_path / "j.db", "store1", "kiosk1") as journal:
        async with Link(mqtt_section(broker.port), "store1", "kiosk1") as link:
            async with OutboxDrainer(journal, link, OutboxSection(window=256, batch=500)) as ob:
                for i in range(0, 10_000, 1000):
                    await journal.append_events(_events(1000, i))  # selling while offline
                assert (await journal.outbox_stats()).depth == 10_000
                broker.start()
                async with FakeCloud(broker.port) as cloud:
                    await cloud.wait_stored(10_000, timeout=60)
                    await ob.wait_idle(timeout=20)
        assert (await journal.outbox_stats()).depth == 0
    assert len(cloud.stored) == 10_000


async def test_offline_policy_warning_then_paused(broker, journal: Journal) -> None:
    broker.stop()
    limits = OfflineSection(warn_queue_depth=5, max_queue_depth=10, max_offline_sale_fen=1000,
                            max_offline_stored_value_fen=5000)
    spent = {"fen": 0}

    async def stored_value() -> int:
        return spent["fen"]

    async with Link(mqtt_section(broker.port), "store1", "kiosk1") as link:
        ob = OutboxDrainer(journal, link, offline=limits, offline_stored_value=stored_value)
        async with ob:
            assert ob.offline_state() == "ok"
            assert await ob.offline_tender_allowed(500)
            assert not await ob.offline_tender_allowed(1500)  # over the per-sale cap
            await journal.append_events(_events(6))
            assert await ob.refresh_offline_state() == "warning"
            spent["fen"] = 4800
            assert not await ob.offline_tender_allowed(500)
            spent["fen"] = 0
            await journal.append_events(_events(6))
            assert await ob.refresh_offline_state() == "paused"
            assert ob.offline_state() == "paused"
            assert not await ob.offline_tender_allowed(100)
            fields = await ob.telemetry_fields()
            assert fields["queue_depth"] == 12 and fields["offline_health"] == "paused"


async def test_malformed_ack_is_dropped_and_link_keeps_running(broker, journal, caplog) -> None:
    import aiomqtt

    await journal.append_events(_events(5))
    async with FakeCloud(broker.port) as cloud:
        async with Link(mqtt_section(broker.port), "store1", "kiosk1") as link:
            async with OutboxDrainer(journal, link) as ob:
                await link.wait_connected(5)
                async with aiomqtt.Client("127.0.0.1", broker.port) as evil:
                    for junk in (b"\xff\xfe", b"[]", b'{"v":1,"acked":5}', b"{}"):
                        await evil.publish(link.topics.events_ack, junk, qos=1)
                    await evil.publish(link.topics.shadow_desired, b"nope", qos=1)
                await cloud.wait_stored(5)
                await ob.wait_idle()
                await journal.append_events(_events(2, 5))
                await cloud.wait_stored(7)
                await ob.wait_idle()
    assert "dropped malformed events/ack" in caplog.text
