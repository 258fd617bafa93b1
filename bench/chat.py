"""Live chat through the bridge vs a bare aiohttp WebSocket echo server, same run.

Both sides get the same load: ``--clients`` WebSocket clients connected at once (default
500), of which ``--staff`` are store staff and the rest shoppers; every shopper sends
``--messages`` messages one after another, each after the previous one came back.

* bridge: the real app (``cloud_bridge.app.create_app``, SQLite file, the service
  domain's chat socket): each message is stored and numbered before it is delivered to
  its shopper and to every staff client of the store;
* echo: a bare aiohttp WebSocket server that sends each message back to its sender and
  to the same number of "staff" sockets, storing nothing.

Printed: deliveries per second and p50/p95 delivery latency (send -> receipt, both in this
process) for each, the seed (fresh each run; ``--seed`` replays), and last
``chat_ratio=<bridge deliveries per second / echo deliveries per second>``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cloud_bridge import auth  # noqa: E402
from cloud_bridge.app import create_app  # noqa: E402
from cloud_bridge.config import BridgeConfig  # noqa: E402
from cloud_bridge.db import Database  # noqa: E402
from cloud_bridge.migrations import import_models  # noqa: E402
from cloud_bridge.service import tickets  # noqa: E402

# Per-message wait for its own delivery; a message slower than this is counted lost.
DELIVERY_TIMEOUT_S = 30.0


class Stats:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.deliveries = 0

    def got(self, sent_at: float) -> None:
        self.latencies.append(time.perf_counter() - sent_at)
        self.deliveries += 1


async def run_clients(url: str, shoppers: list[tuple[str, dict]], staff: list[tuple[str, dict]],
                      messages: int, rng: random.Random, bridge: bool) -> tuple[Stats, float]:
    stats = Stats()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        staff_ws = [await http.ws_connect(url + path, headers=h) for path, h in staff]
        shop_ws = [await http.ws_connect(url + path, headers=h) for path, h in shoppers]
        expected = len(shop_ws) * messages * len(staff_ws)
        staff_done = asyncio.Event()
        staff_count = 0

        async def staff_reader(ws) -> None:
            nonlocal staff_count
            async for frame in ws:
                obj = json.loads(frame.data)
                if obj.get("type") == "message":
                    stats.got(float(obj["body"].split("|")[1]))
                    staff_count += 1
                    if staff_count >= expected:
                        staff_done.set()

        async def shopper(i: int, ws) -> None:
            await asyncio.sleep(rng.random() * 0.5)  # staggered, seeded start
            for n in range(messages):
                body = f"第{n}条 顾客{i}|{time.perf_counter()!r}"
                await ws.send_str(json.dumps({"type": "message", "client_msg_id": f"m{n}",
                                              "body": body}))
                while True:
                    frame = await asyncio.wait_for(ws.receive(), DELIVERY_TIMEOUT_S)
                    obj = json.loads(frame.data)
                    if obj.get("type") == "message" and obj["client_msg_id"] == f"m{n}":
                        stats.got(float(obj["body"].split("|")[1]))
                        break

        readers = [asyncio.create_task(staff_reader(ws)) for ws in staff_ws]
        start = time.perf_counter()
        await asyncio.gather(*(shopper(i, ws) for i, ws in enumerate(shop_ws)))
        await asyncio.wait_for(staff_done.wait(), DELIVERY_TIMEOUT_S)
        elapsed = time.perf_counter() - start
        for ws in [*staff_ws, *shop_ws]:
            await ws.close()
        for task in readers:
            task.cancel()
    return stats, elapsed


async def bridge_side(n_shoppers: int, n_staff: int, messages: int, rng: random.Random,
                      tmp: Path) -> tuple[Stats, float]:
    import_models()
    url = f"sqlite+aiosqlite:///{tmp / 'bridge.db'}"
    db = Database(url)
    await db.create_all()
    cfg = BridgeConfig()
    cfg.database.url = url
    cfg.mqtt.enabled = False
    cfg.rpc.handler_modules = []
    shoppers, staff = [], []
    async with db.session() as s:
        await auth.create_admin_user(s, "bench", "bench-secret", auth.STORE_STAFF, "s1")
    async with db.session() as s:
        token, _, _ = await auth.admin_login(s, "bench", "bench-secret", 3600)
        staff = [("/api/v1/admin/service/stores/s1/chat",
                  {"Authorization": f"Bearer {token}"})] * n_staff
        for i in range(n_shoppers):
            openid = f"o-bench-{i:04d}"
            tok, _ = await auth.mp_login(s, openid, 3600)
            conv = await tickets.open_ticket(s, store="s1", channel="chat", subject="bench",
                                             actor=f"mp:{openid}", openid=openid)
            shoppers.append((f"/api/v1/mp/service/conversations/{conv.id}/chat",
                             {"Authorization": f"Bearer {tok}"}))
    app = create_app(cfg, db=db)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        return await run_clients(f"http://127.0.0.1:{port}", shoppers, staff, messages, rng,
                                 True)
    finally:
        await runner.cleanup()
        await db.close()


async def echo_side(n_shoppers: int, n_staff: int, messages: int,
                    rng: random.Random) -> tuple[Stats, float]:
    staff_sockets: list[web.WebSocketResponse] = []

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        if request.path.endswith("/staff"):
            staff_sockets.append(ws)
        async for frame in ws:
            obj = json.loads(frame.data)
            out = json.dumps({"type": "message", "client_msg_id": obj["client_msg_id"],
                              "body": obj["body"]}, ensure_ascii=False)
            await ws.send_str(out)
            for st in staff_sockets:
                await st.send_str(out)
        return ws

    app = web.Application()
    app.router.add_get("/echo/{kind}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        return await run_clients(f"http://127.0.0.1:{port}", [("/echo/shopper", {})] * n_shoppers,
                                 [("/echo/staff", {})] * n_staff, messages, rng, False)
    finally:
        await runner.cleanup()


def report(name: str, stats: Stats, elapsed: float) -> float:
    lat = sorted(stats.latencies)
    rate = stats.deliveries / elapsed
    p50 = statistics.median(lat) * 1000
    p95 = lat[int(0.95 * (len(lat) - 1))] * 1000
    print(f"{name}: deliveries={stats.deliveries} elapsed_s={elapsed:.2f} "
          f"deliveries_per_s={rate:.0f} p50_ms={p50:.1f} p95_ms={p95:.1f}")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--staff", type=int, default=4)
    parser.add_argument("--messages", type=int, default=3, help="per shopper")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    n_shoppers = args.clients - args.staff
    print(f"seed={seed} clients={args.clients} shoppers={n_shoppers} staff={args.staff} "
          f"messages_per_shopper={args.messages}")
    with tempfile.TemporaryDirectory() as tmp:
        bridge = asyncio.run(bridge_side(n_shoppers, args.staff, args.messages,
                                         random.Random(seed), Path(tmp)))
    echo = asyncio.run(echo_side(n_shoppers, args.staff, args.messages, random.Random(seed)))
    bridge_rate = report("bridge", *bridge)
    echo_rate = report("echo", *echo)
    print(f"chat_ratio={bridge_rate / echo_rate:.3f}")


if __name__ == "__main__":
    main()
