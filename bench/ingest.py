"""Ingest benchmark: N simulated kiosks -> Mosquitto -> bridge worker -> database -> acks.

Measured side by side in one run, on a Mosquitto this script starts on a free port:

* raw broker: the same kiosks publish the same ``order.completed`` payloads with
  QoS 1 (bounded window) to a plain aiomqtt subscriber process on the bridge's
  shared subscription, no database: messages per second;
* the bridge (``cloud-bridge serve`` as a separate process) on SQLite and, when
  reachable, on PostgreSQL: events stored *and acked end to end* per second (a
  kiosk counts an event only when its ack arrives, i.e. after the commit).

The bridge runs its shipped configuration (the default ``[ingest]`` batch settings)
on empty stock, so sales also go through the oversell path as they do in a new store.

Then the scale runs: 200, 1,000 and 5,000 simulated kiosks connected at once, each with
its own MQTT session and its own credentials and ACL entry on a broker configured with
the production rules (password file, per-kiosk ACL, client id = username), publishing
to the bridge on PostgreSQL (SQLite when none is reachable): events stored and acked
per second and the p99 ack latency per size, then ``ingest_scale_ratio`` = rate at the
largest / at the smallest. All kiosks run in this one process, so at 5,000 the
simulator shares the two cores with the broker, the bridge and the database. The
simulated kiosks use the bridge's MQTT client (``cloud_bridge.ingest.mqtt_client``:
aiomqtt with fewer system calls and no task per message read), one session each; the
raw side's subscriber is plain aiomqtt.

The three sides (raw, SQLite, PostgreSQL) run in ``--rounds`` interleaved rounds (the
order rotates each round), each bridge side on a fresh database with a bridge process
of its own started before the timing; the machine's load moves between rounds, so each
side's figure is the median of its rounds with the range.

Last line: ``ingest_ratio=<median bridge on PostgreSQL / median raw broker>`` (SQLite
stands in, and says so, when no PostgreSQL is reachable).

    .venv/bin/python bench/ingest.py [--kiosks 200] [--events 40] [--window 16]
        [--rounds 5] [--scale 200,1000,5000] [--scale-events 8]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiomqtt  # noqa: E402

from cloud_bridge.ingest.mqtt_client import BridgeMqttClient  # noqa: E402
from common.mosquitto import Broker  # noqa: E402
from contract.wire import KioskTopics, bridge_subscription  # noqa: E402
from contract.wire.base import decode  # noqa: E402
from contract.wire.events import ORDER_COMPLETED, Event, EventAck  # noqa: E402
from kiosk_agent.config import OutboxSection  # noqa: E402

PG_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
# A safety net, not a measure: 5,000 kiosks x 8 events take minutes on a loaded 2-core machine.
RUN_TIMEOUT_S = 900.0
# A simulated kiosk resends an event not acked within this long, as a kiosk's outbox
# does in its shipped configuration ([outbox] ack_timeout_s).
RESEND_S = OutboxSection().ack_timeout_s


def make_events(kiosk: int, count: int) -> list[tuple[str, bytes]]:
    store, kid = f"b{kiosk % 20:02d}", f"k{kiosk:04d}"
    out = []
    for seq in range(count):
        order_no = f"{kid}-{uuid.uuid4().hex[:12]}"
        lines = [{"line_no": 1, "product_id": f"p{seq % 50}", "name_zh": "矿泉水", "qty": 2,
                  "unit_price": 200, "list_amount": 400, "discount": 0, "amount": 400,
                  "vat_rate_bp": 1300},
                 {"line_no": 2, "product_id": f"p{(seq + 7) % 50}", "name_zh": "面包", "qty": 1,
                  "unit_price": 800, "list_amount": 800, "discount": 0, "amount": 800,
                  "vat_rate_bp": 900}]
        ts = "2026-03-01T04:00:00+00:00"
        ev = Event(type=ORDER_COMPLETED, store=store, kiosk=kid, seq=seq, data={
            "order_no": order_no, "created_at": ts, "completed_at": ts, "lines": lines,
            "subtotal": 1200, "discount_total": 0, "total": 1200,
            "tenders": [{"method": "wechat", "amount": 1200}]})
        out.append((ev.event_id, ev.encode()))
    return out


async def run_kiosks(port: int, payloads: list[list[tuple[str, bytes]]], window: int,
                     wait_acks: bool, credentials: dict[int, tuple[str, str]] | None = None,
                     latencies: list[float] | None = None,
                     resent: list[int] | None = None) -> float:
    """Every kiosk publishes its events (QoS 1, ``window`` in flight); returns start time.

    With ``wait_acks`` a kiosk keeps each event until the bridge's end-to-end ack
    (resending after a timeout, as the link does) and the call returns when all are acked;
    each event's first-publish-to-ack time goes to ``latencies`` and the number of events
    published again after the ack timeout is added to ``resent[0]``. ``credentials``
    gives kiosk ``i`` its own username and password.
    """
    start_evt = asyncio.Event()
    ready = 0
    all_ready = asyncio.Event()
    start_at = 0.0

    async def kiosk(i: int, events: list[tuple[str, bytes]]) -> None:
        nonlocal ready
        topics = KioskTopics(f"b{i % 20:02d}", f"k{i:04d}")
        user, password = (credentials or {}).get(i, (None, None))
        # Each kiosk its own MQTT session (and account, with ``credentials``), through the
        # bridge's client: aiomqtt's, with fewer sends and no task per message read. The
        # sessions are what the broker sees of a fleet; the client's own CPU is the
        # simulator's, which shares the machine with the broker and the bridge.
        async with BridgeMqttClient(hostname="127.0.0.1", port=port,
                                    identifier=user or f"bench-{topics.kiosk}",
                                    username=user, password=password,
                                    protocol=aiomqtt.ProtocolVersion.V5, timeout=60) as c:
            c.pending_calls_threshold = window + 1  # the window bounds them on purpose
            if wait_acks:
                await c.subscribe(topics.events_ack, qos=1)
            ready += 1
            if ready == len(payloads):
                all_ready.set()
            await start_evt.wait()
            if not wait_acks:
                sem = asyncio.Semaphore(window)

                async def one(payload: bytes) -> None:
                    async with sem:
                        await c.publish(topics.events, payload, qos=1)

                await asyncio.gather(*(one(p) for _, p in events))
                return
            pending: dict[str, float] = {}
            first_sent: dict[str, float] = {}
            acked: set[str] = set()
            todo = list(events)
            by_id = dict(events)
            done = asyncio.Event()
            # Set by each ack: the window has room again (or all is acked). Waiting on it,
            # not polling, keeps the simulator's CPU for publishing: a 10 ms poll per kiosk
            # cost more CPU per event than the raw side's whole simulator.
            wake = asyncio.Event()

            async def reader() -> None:
                async for msg in c.messages:
                    ack = decode(EventAck, msg.payload)
                    now = time.monotonic()
                    for eid in ack.acked:
                        pending.pop(eid, None)
                        if eid not in acked and eid in first_sent and latencies is not None:
                            latencies.append(now - first_sent[eid])
                        acked.add(eid)
                    wake.set()
                    if len(acked) == len(events):
                        done.set()
                        return

            rtask = asyncio.create_task(reader())
            try:
                while not done.is_set():
                    wake.clear()
                    now = time.monotonic()
                    resend = [e for e, t in pending.items() if now - t > RESEND_S]
                    if resent is not None:
                        resent[0] += len(resend)
                    while todo and len(pending) < window:
                        eid, _ = todo.pop(0)
                        resend.append(eid)
                    for eid in resend:
                        pending[eid] = now
                        first_sent.setdefault(eid, now)
                        await c.publish(topics.events, by_id[eid], qos=1)
                    if done.is_set() or wake.is_set():
                        continue
                    due = min(pending.values(), default=now) + RESEND_S - time.monotonic()
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(max(due, 0.001)):
                            await wake.wait()
            finally:
                rtask.cancel()

    tasks = []
    for i, ev in enumerate(payloads):  # connect in waves: a real fleet does not dial at once
        tasks.append(asyncio.create_task(kiosk(i, ev)))
        if i % 100 == 99:
            await asyncio.sleep(0.05)
    await asyncio.wait_for(all_ready.wait(), 300)
    start_at = time.time()
    start_evt.set()
    await asyncio.wait_for(asyncio.gather(*tasks), RUN_TIMEOUT_S)
    return start_at


# --------------------------------------------------------------------------- raw subscriber


async def raw_subscriber(port: int, count: int) -> None:
    """Child process: the bridge's shared subscription without a database; prints the end."""
    got = 0
    async with aiomqtt.Client("127.0.0.1", port, identifier=f"raw-{os.getpid()}",
                              protocol=aiomqtt.ProtocolVersion.V5) as c:
        await c.subscribe(bridge_subscription("events"), qos=1)
        print("ready", flush=True)
        async for _ in c.messages:
            got += 1
            if got >= count:
                print(f"done {time.time():.6f}", flush=True)
                return


def measure_raw(port: int, payloads, window: int) -> float:
    total = sum(len(p) for p in payloads)
    proc = subprocess.Popen([sys.executable, __file__, "--raw-subscriber", str(port), str(total)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        start = asyncio.run(run_kiosks(port, payloads, window, wait_acks=False))
        line = proc.stdout.readline().strip()
        proc.wait(RUN_TIMEOUT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
    end = float(line.split()[1])
    return total / (end - start)


# --------------------------------------------------------------------------- bridge


def bridge_config(path: Path, db_url: str, port: int, worker: str,
                  username: str = "") -> Path:
    path.write_text(f"""
[bridge]
worker_id = "{worker}"
[database]
url = "{db_url}"
auto_migrate = true
pool_size = 4
[mqtt]
port = {port}
username = "{username}"
client_id = "{worker}"
[http]
port = 0
[rpc]
handler_modules = []
[logging]
level = "WARNING"
""")
    return path


def wait_connected(url: str) -> None:
    import json
    import urllib.request

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/api/v1/health", timeout=2) as r:
                if json.load(r)["mqtt"] is True:
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError("bridge did not connect to the broker")


def measure_bridge(port: int, payloads, window: int, db_url: str, workdir: Path,
                   name: str, deployment: Any = None,
                   credentials: dict[int, tuple[str, str]] | None = None,
                   latencies: list[float] | None = None,
                   resent: list[int] | None = None) -> float:
    username = ""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    if deployment is not None:
        from cloud_bridge.provisioning import BRIDGE_USER

        username = BRIDGE_USER
        env["BRIDGE_MQTT_PASSWORD"] = deployment.bridge_password()
    cfg = bridge_config(workdir / f"{name}.toml", db_url, port, f"bench-{name}", username)
    proc = subprocess.Popen([sys.executable, "-m", "cloud_bridge.cli", "serve", "--config",
                             str(cfg)], stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    try:
        line = proc.stdout.readline()
        if "listening on" not in line:
            raise RuntimeError(f"bridge did not start: {line!r}")
        wait_connected(line.split("listening on", 1)[1].strip())
        total = sum(len(p) for p in payloads)
        start = asyncio.run(run_kiosks(port, payloads, window, wait_acks=True,
                                       credentials=credentials, latencies=latencies,
                                       resent=resent))
        return total / (time.time() - start)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def provision(workdir: Path, kiosks: int) -> tuple[Any, dict[int, tuple[str, str]]]:
    """A deployment with ``kiosks`` kiosks: passwords, ACL blocks (written in one go)."""
    import secrets

    from cloud_bridge.provisioning import (
        Deployment,
        kiosk_username,
        mosquitto_hash,
    )

    dep = Deployment(workdir / f"deploy{kiosks}")
    dep.ensure()
    entries = dep.passwd_entries()
    credentials: dict[int, tuple[str, str]] = {}
    registry = {}
    for i in range(kiosks):
        store, kiosk = f"b{i % 20:02d}", f"k{i:04d}"
        user = kiosk_username(store, kiosk)
        password = secrets.token_urlsafe(12)
        entries[user] = mosquitto_hash(password)
        registry[user] = {"store": store, "kiosk": kiosk, "added_at": 0, "rotated_at": 0}
        credentials[i] = (user, password)
    dep._write(dep.registry_path, json.dumps(registry), 0o640)
    dep._write_passwd(entries)
    dep._write(dep.acl_path, dep.render_acl(), 0o640)
    return dep, credentials


def secured_broker(workdir: Path, dep: Any) -> Broker:
    from cloud_bridge.provisioning import render_broker_config
    from common.ports import free_port

    port = free_port()
    conf = render_broker_config(dep, port=port, persistence_dir=workdir,
                                log_file=workdir / "mosquitto.log")
    conf += "max_connections -1\n"
    return Broker(workdir, port=port, conf_text=conf)


def p99_ms(values: list[float]) -> float:
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] if ordered else 0.0


async def _pg(sql: str) -> bool:
    try:
        import asyncpg

        conn = await asyncio.wait_for(
            asyncpg.connect(PG_URL.replace("postgresql+asyncpg://", "postgresql://", 1)), 3)
    except Exception:
        return False
    try:
        await conn.execute(sql)
    finally:
        await conn.close()
    return True


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kiosks", type=int, default=200)
    ap.add_argument("--events", type=int, default=40, help="events per kiosk")
    ap.add_argument("--window", type=int, default=16, help="in-flight events per kiosk")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds (>= 5)")
    ap.add_argument("--scale", default="200,1000,5000", help="kiosks connected at once")
    ap.add_argument("--scale-events", type=int, default=8, help="events per kiosk at scale")
    ap.add_argument("--raw-subscriber", nargs=2, type=int, metavar=("PORT", "COUNT"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args()
    import logging

    logging.basicConfig(level=logging.ERROR)  # aiomqtt's "pending publish calls" chatter
    if args.raw_subscriber:
        asyncio.run(raw_subscriber(*args.raw_subscriber))
        return 0

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # thousands of sockets
    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    broker = Broker(work / "mosquitto", extra_conf="max_connections -1\n").start()
    use_pg = asyncio.run(_pg("SELECT 1"))
    sides = ["raw", "sqlite", *(["pg"] if use_pg else [])]
    rates: dict[str, list[float]] = {side: [] for side in sides}
    try:
        total = args.kiosks * args.events
        print(f"kiosks={args.kiosks} events_per_kiosk={args.events} total={total} "
              f"window={args.window} rounds={args.rounds} broker=mosquitto:{broker.port}")
        for r in range(args.rounds):
            for side in sides[r % len(sides):] + sides[:r % len(sides)]:
                rates[side].append(measure_side(side, broker.port, args, work, r))
            print(f"round {r + 1}: " + ", ".join(f"{LABELS[side]} {rates[side][-1]:.0f}/s"
                                                   for side in sides), flush=True)
    finally:
        broker.kill()
    print(f"raw broker QoS1 publisher->subscriber: {spread(rates['raw'])} msg/s")
    print(f"bridge on SQLite: {spread(rates['sqlite'])} events stored+acked/s")
    if use_pg:
        print(f"bridge on PostgreSQL: {spread(rates['pg'])} events stored+acked/s")
    else:
        print("bridge on PostgreSQL: not reachable; SQLite stands in for the ratio")
    ratio = statistics.median(rates["pg" if use_pg else "sqlite"]) / statistics.median(
        rates["raw"])
    scale: dict[int, float] = {}
    for n in (int(x) for x in args.scale.split(",") if x):
        scale[n] = scale_run(work, n, args.scale_events, args.window, use_pg)
    if scale:
        sizes = sorted(scale)
        print(f"ingest_scale_ratio={scale[sizes[-1]] / scale[sizes[0]]:.3f}")
    print(f"ingest_ratio={ratio:.3f}")
    shutil.rmtree(work, ignore_errors=True)  # brokers' files, deployments, SQLite files
    return 0


LABELS = {"raw": "raw", "sqlite": "SQLite", "pg": "PostgreSQL"}


def spread(rates: list[float]) -> str:
    return f"median {statistics.median(rates):.0f} (range {min(rates):.0f}-{max(rates):.0f})"


def measure_side(side: str, port: int, args: argparse.Namespace, work: Path, r: int) -> float:
    """One round of one side, on fresh events (and a fresh database for a bridge)."""
    payloads = [make_events(i, args.events) for i in range(args.kiosks)]
    if side == "raw":
        return measure_raw(port, payloads, args.window)
    if side == "sqlite":
        return measure_bridge(port, payloads, args.window,
                              f"sqlite+aiosqlite:///{work / f'bench{r}.db'}", work, f"sqlite{r}")
    dbname = f"cbbench_{os.getpid()}_{r}"
    if not asyncio.run(_pg(f'CREATE DATABASE "{dbname}"')):
        raise RuntimeError("PostgreSQL went away during the run")
    try:
        url = PG_URL.rpartition("/")[0] + "/" + dbname
        return measure_bridge(port, payloads, args.window, url, work, f"pg{r}")
    finally:
        asyncio.run(_pg(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)'))


def scale_run(work: Path, kiosks: int, events: int, window: int, use_pg: bool) -> float:
    """``kiosks`` kiosks with their own credentials at once; prints rate and p99 ack latency."""
    folder = work / f"scale{kiosks}"
    folder.mkdir()
    dep, credentials = provision(folder, kiosks)
    broker = secured_broker(folder / "mosquitto", dep).start()
    latencies: list[float] = []
    resent = [0]
    dbname = f"cbscale_{os.getpid()}_{kiosks}"
    try:
        payloads = [make_events(i, events) for i in range(kiosks)]
        if use_pg and asyncio.run(_pg(f'CREATE DATABASE "{dbname}"')):
            url, backend = PG_URL.rpartition("/")[0] + "/" + dbname, "PostgreSQL"
        else:
            url, backend = f"sqlite+aiosqlite:///{folder / 'bench.db'}", "SQLite"
        rate = measure_bridge(broker.port, payloads, window, url, folder, f"scale{kiosks}",
                              deployment=dep, credentials=credentials, latencies=latencies,
                              resent=resent)
    finally:
        broker.kill()
        if use_pg:
            asyncio.run(_pg(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)'))
    print(f"scale kiosks={kiosks} events={kiosks * events} on {backend}: {rate:.0f} events "
          f"stored+acked/s, p99 ack latency {p99_ms(latencies):.0f} ms, "
          f"{resent[0]} events resent after the {RESEND_S:.0f} s ack timeout", flush=True)
    return rate


if __name__ == "__main__":
    sys.exit(main())
