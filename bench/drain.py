"""Outbox drain vs raw aiomqtt QoS 1 publishing, same broker, same consumer, same run.

    .venv/bin/python bench/drain.py [--events 10000] [--window 256] [--sizes 1000,10000,100000]

Starts its own Mosquitto on a free port and one acking consumer in its own process
(:mod:`demo.fake_cloud`, lean mode: stores each event id and acks it on the kiosk's
``events/ack``, as the bridge does). ``outbox``: N events queued in a real journal,
drained by :class:`OutboxDrainer` until every one is acked end to end and deleted from
the journal. ``raw``: the same N encoded events published with aiomqtt at QoS 1
through the same bounded window, a slot freed when the consumer's end-to-end ack for
that event arrives (the same ack the outbox waits for, not the broker's PUBACK), each
publish started without awaiting its PUBACK, as the outbox starts them (until
2026-12-06 this side awaited every PUBACK before the next publish: a stop-and-wait
baseline that the outbox beat by 1.1-2x). This side publishes through aiomqtt's
``publish`` (a task, an event and a timeout per message); since 2026-12-06 the outbox
hands its publishes to paho directly (``Link.publish_nowait``, no future per message),
which is part of what the ratio measures.
Rounds alternate the two sides; figures are medians with their range. Each round also
drains 1k, 10k and 100k queued events (a kiosk offline for hours; the sizes in the
opposite order to the round before), and ``drain_scale_ratio`` = median rate at the
largest / median rate at the smallest. Last line: ``drain_ratio=<outbox rate / raw
rate>``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiomqtt  # noqa: E402

from common.mosquitto import Broker  # noqa: E402
from contract.wire.topics import KioskTopics  # noqa: E402
from kiosk_agent.config import MqttSection, OutboxSection  # noqa: E402
from kiosk_agent.journal import Journal  # noqa: E402
from kiosk_agent.link import Link  # noqa: E402
from kiosk_agent.outbox import OutboxDrainer  # noqa: E402


def _events(n: int) -> list[tuple[str, dict]]:
    return [
        ("order.completed", {"order_no": f"k1-20240101-{i:05d}", "total": 1234, "lines": [
            {"line_no": 1, "product_id": "p1", "name_zh": "矿泉水", "qty": 2, "unit_price": 200,
             "list_amount": 400, "discount": 0, "amount": 400, "vat_rate_bp": 1300}]})
        for i in range(n)
    ]


class Consumer:
    """The acking consumer process (:mod:`demo.fake_cloud` lean mode)."""

    def __init__(self, port: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "demo.fake_cloud", "--port", str(port), "--fast"],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        assert self.proc.stdout is not None and self.proc.stdout.readline().strip() == "ready"

    def stored(self) -> int:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("count\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline().strip()  # stored=N received=M
        return int(line.split()[0].split("=")[1])

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(10)


async def queue_events(journal: Journal, n: int) -> None:
    events = _events(n)
    for i in range(0, n, 1000):
        await journal.append_events(events[i : i + 1000])


async def run_outbox(port: int, workdir: Path, n: int, window: int,
                     consumer: Consumer) -> tuple[float, list[bytes]]:
    before = consumer.stored()
    async with Journal(workdir / "journal.db", "store1", "kiosk1") as journal:
        await queue_events(journal, n)
        payloads = [r.payload for r in await journal.outbox_pending(n)]
        mqtt = MqttSection(host="127.0.0.1", port=port)
        async with Link(mqtt, "store1", "kiosk1") as link:
            await link.wait_connected(10)
            t0 = time.perf_counter()
            cfg = OutboxSection(window=window, batch=max(window * 2, 500))
            async with OutboxDrainer(journal, link, cfg) as ob:
                await ob.wait_idle(timeout=600)
            elapsed = time.perf_counter() - t0
        assert (await journal.outbox_stats()).depth == 0
    stored = consumer.stored() - before
    assert stored == n, f"consumer stored {stored} of {n}"
    return elapsed, payloads


async def run_raw(port: int, payloads: list[bytes], window: int, kiosk: str) -> float:
    """The same events published raw, each window slot freed by its end-to-end ack."""
    topics = KioskTopics("store1", kiosk)
    sem = asyncio.Semaphore(window)
    waiting: set[str] = set()
    done = asyncio.Event()
    ids = [json.loads(p)["event_id"] for p in payloads]
    async with aiomqtt.Client(
        "127.0.0.1", port, identifier=f"raw-{kiosk}", protocol=aiomqtt.ProtocolVersion.V5,
        max_inflight_messages=1024,
        socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],  # same as the link
    ) as client:
        client.pending_calls_threshold = 100000
        await client.subscribe(topics.events_ack, qos=1)

        async def acks() -> None:
            async for message in client.messages:
                for event_id in json.loads(bytes(message.payload))["acked"]:
                    if event_id in waiting:
                        waiting.discard(event_id)
                        sem.release()
                if not waiting and len(ids) == sent:
                    done.set()

        sent = 0
        reader = asyncio.create_task(acks())
        publishes: set[asyncio.Task[None]] = set()
        t0 = time.perf_counter()
        for event_id, p in zip(ids, payloads, strict=True):
            await sem.acquire()
            waiting.add(event_id)
            sent += 1
            # Not awaited here: aiomqtt's publish returns on the broker's PUBACK, and the
            # outbox does not wait for it either (its window is freed by the end-to-end
            # ack); awaiting it would make this side stop-and-wait.
            task = asyncio.create_task(client.publish(topics.events, p, qos=1))
            publishes.add(task)
            task.add_done_callback(publishes.discard)
        await asyncio.wait_for(done.wait(), 600)
        await asyncio.gather(*publishes)
        elapsed = time.perf_counter() - t0
        reader.cancel()
        return elapsed


def spread(rates: list[float]) -> str:
    return f"median {statistics.median(rates):.0f}/s (range {min(rates):.0f}-{max(rates):.0f})"


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=10_000)
    ap.add_argument("--window", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=5, help="alternating rounds")
    ap.add_argument("--sizes", default="1000,10000,100000", help="queued events, for scale")
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)
    n = args.events
    outs, raws = [], []
    sizes = sorted(int(x) for x in args.sizes.split(","))
    scale: dict[int, list[float]] = {size: [] for size in sizes}
    with tempfile.TemporaryDirectory() as tmp:
        broker = Broker(Path(tmp) / "mosquitto").start()
        consumer = Consumer(broker.port)
        try:
            for r in range(args.rounds):
                work = Path(tmp) / f"round{r}"
                work.mkdir()
                t_out, payloads = await run_outbox(broker.port, work, n, args.window, consumer)
                t_raw = await run_raw(broker.port, payloads, args.window, f"raw{r}")
                outs.append(n / t_out)
                raws.append(n / t_raw)
                print(f"round {r + 1}: outbox {n / t_out:.0f}/s raw {n / t_raw:.0f}/s",
                      flush=True)
                # Alternate the order: the machine's load drifts within a round as well.
                for size in sizes if r % 2 == 0 else sizes[::-1]:
                    work = Path(tmp) / f"scale{size}-{r}"
                    work.mkdir()
                    t_out, _ = await run_outbox(broker.port, work, size, args.window, consumer)
                    scale[size].append(size / t_out)
                    shutil.rmtree(work)  # 100k drained events leave a large file behind
                print(f"scale round {r + 1}: " + ", ".join(
                    f"{size} queued {scale[size][-1]:.0f}/s" for size in sizes), flush=True)
        finally:
            consumer.close()
            broker.kill()
    for size, rates in scale.items():
        print(f"drain_events_per_s_with_{size}_queued={statistics.median(rates):.0f} "
              f"({spread(rates)})")
    print(f"events={n} window={args.window} rounds={args.rounds}")
    print(f"raw_qos1_acked_end_to_end: {spread(raws)}")
    print(f"outbox_drained_acked_deleted: {spread(outs)}")
    largest, smallest = statistics.median(scale[sizes[-1]]), statistics.median(scale[sizes[0]])
    print(f"drain_scale_ratio={largest / smallest:.2f}")
    print(f"drain_ratio={statistics.median(outs) / statistics.median(raws):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
