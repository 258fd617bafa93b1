"""Settled payments per second through the bridge vs the sandbox called directly.

Same run, same sandbox, same kind of requests (WeChat and Alipay code payments,
alternating, with fresh payment codes), same concurrency:

* direct: our provider clients call the sandbox gateways;
* through bridge: a kiosk Link sends ``payment.charge`` over a real Mosquitto to the
  bridge's Ingest (RPC dispatch), which records the payment in SQLite and charges the
  sandbox; a payment counts when the kiosk has its settled (paid) reply.

Last line: ``payment_ratio=<through bridge / direct>``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cloud_bridge.payments.providers.base import ChargeRequest  # noqa: E402
from cloud_bridge.payments.sandbox import Sandbox  # noqa: E402
from common.mosquitto import Broker  # noqa: E402
from contract.wire.payments import ChargeParams  # noqa: E402
from demo.harness import kiosk_link, payment_code, run_bridge  # noqa: E402

POLICY = dict(query_window_s=2.0, query_interval_s=0.1, reverse_attempts=3,
              reverse_interval_s=0.1, charge_stale_s=5.0)


async def bounded(n: int, concurrency: int, one) -> float:
    sem = asyncio.Semaphore(concurrency)

    async def run(i: int) -> None:
        async with sem:
            await one(i)

    t0 = time.perf_counter()
    await asyncio.gather(*(run(i) for i in range(n)))
    return time.perf_counter() - t0


async def main(n: int, concurrency: int) -> None:
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        tmpd = Path(tmp)
        broker = Broker(tmpd / "mosquitto").start()
        try:
            async with Sandbox(tmpd / "keys") as sb:
                from cloud_bridge.payments.config import PaymentSettings, build_providers

                providers = build_providers(PaymentSettings.from_manifest(sb.manifest))
                direct_ok = 0

                async def direct(i: int) -> None:
                    nonlocal direct_ok
                    method = ("wechat", "alipay")[i % 2]
                    out = await providers[method].charge(ChargeRequest(
                        f"D{i:08d}", 100 + i % 500, auth_code=payment_code(method, rng)))
                    direct_ok += out.status == "paid"

                await bounded(20, concurrency, lambda i: direct(10**6 + i))   # warm-up
                direct_ok = 0
                t_direct = await bounded(n, concurrency, direct)
                for p in providers.values():
                    await p.close()

                stop = asyncio.Event()
                bridge = asyncio.create_task(run_bridge(
                    broker.port, f"sqlite+aiosqlite:///{tmpd}/bridge.db", sb.manifest,
                    request_timeout_s=10.0, policy=POLICY, stop=stop))
                link = kiosk_link(broker.port, "S1", "K1")
                bridge_ok = 0
                async with link:
                    await link.wait_connected(10)
                    await asyncio.sleep(1.0)   # the bridge subscribes

                    async def via_bridge(i: int) -> None:
                        nonlocal bridge_ok
                        method = ("wechat", "alipay")[i % 2]
                        params = ChargeParams(order_no=f"O{i}", out_trade_no=f"B{i:08d}",
                                              method=method, amount=100 + i % 500,
                                              auth_code=payment_code(method, rng))
                        res = await link.request("payment.charge",
                                                 params.model_dump(exclude_none=True), 30.0)
                        bridge_ok += res["status"] == "paid"

                    await bounded(20, concurrency, lambda i: via_bridge(10**6 + i))
                    bridge_ok = 0
                    t_bridge = await bounded(n, concurrency, via_bridge)
                    await link.close()
                stop.set()
                await bridge
        finally:
            broker.kill()
    direct_rate = direct_ok / t_direct
    bridge_rate = bridge_ok / t_bridge
    print(f"payments={n} concurrency={concurrency}")
    print(f"direct: {direct_ok} paid in {t_direct:.2f}s = {direct_rate:.1f}/s")
    print(f"through bridge: {bridge_ok} paid in {t_bridge:.2f}s = {bridge_rate:.1f}/s")
    print(f"payment_ratio={bridge_rate / direct_rate:.3f}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=400, help="payments per side")
    ap.add_argument("-c", "--concurrency", type=int, default=16)
    a = ap.parse_args()
    asyncio.run(main(a.n, a.concurrency))
