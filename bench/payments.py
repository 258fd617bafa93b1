"""Settled payments per second through the bridge vs the sandbox called directly.

Same run, same sandbox, same kind of requests (WeChat and Alipay code payments,
alternating, with fresh payment codes), same concurrency:

* direct: the bridge's provider clients call the sandbox gateways, ``--concurrency``
  at a time;
* through bridge: ``--concurrency`` kiosks, each with its own journal, link and
  :class:`kiosk_agent.payments.KioskPayments`, pay one sale after another as a
  checkout does: the attempt is persisted in the kiosk's journal first, then
  ``payment.charge`` goes over a real Mosquitto to the bridge, which runs in its own
  process (``python -m demo.harness bridge``: Ingest RPC dispatch, the payment
  recorded in SQLite before the sandbox is charged); a payment counts when the kiosk
  has recorded its settled (paid) outcome in its journal.

Both sides run in ``--rounds`` interleaved rounds (the first side alternates), against
the one sandbox and the one bridge process, each round's kiosks with fresh journals;
the machine's load moves between rounds, so each side's figure is the median of its
rounds with the range, and each round's ratio is printed too.

Last line: ``payment_ratio=<median through bridge / median direct>``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cloud_bridge.payments.providers.base import ChargeRequest  # noqa: E402
from cloud_bridge.payments.sandbox import Sandbox  # noqa: E402
from common.mosquitto import Broker  # noqa: E402
from demo.harness import kiosk_link, payment_code  # noqa: E402

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


async def kiosk_payments(port: int, folder: Path, kiosk: str, count: int, start: asyncio.Event,
                          rng: random.Random, round_no: int) -> int:
    """One kiosk paying ``count`` sales in a row once ``start`` is set; returns paid."""
    from kiosk_agent.journal import Journal
    from kiosk_agent.payments import KioskPayments

    paid = 0
    link = kiosk_link(port, "S1", kiosk)
    async with Journal(folder / f"r{round_no}-{kiosk}.db", "S1", kiosk) as journal, link:
        pay = KioskPayments(link, journal)
        await link.wait_connected(10)
        await start.wait()
        for i in range(count):
            order_no = f"S1-{kiosk}-{round_no}{i:05d}"
            no = f"{order_no}-1"
            method = ("wechat", "alipay")[i % 2]
            amount = 100 + (i * 37) % 500
            await journal.begin_payment_attempt(order_no, no, method, amount, "CNY")
            out = await pay.charge(order_no, no, method, amount, "CNY", payment_code(method, rng))
            paid += out.status == "paid"
            if out.status != "paid":
                print(f"  {no}: {out.status} ({out.reason})", flush=True)
        await link.close()
    return paid


async def through_bridge(port: int, folder: Path, n: int, concurrency: int,
                         round_no: int) -> tuple[int, float]:
    """``concurrency`` kiosks (fresh journals in ``folder``) paying ``n`` sales in all."""
    start = asyncio.Event()
    per_kiosk = max(1, n // concurrency)
    kiosks = [asyncio.create_task(kiosk_payments(
        port, folder, f"K{k:02d}", per_kiosk, start, random.Random(1000 * (round_no + 1) + k),
        round_no)) for k in range(concurrency)]
    await asyncio.sleep(1.0)  # every link connected
    t0 = time.perf_counter()
    start.set()
    paid = sum(await asyncio.gather(*kiosks))
    return paid, time.perf_counter() - t0


def spread(rates: list[float]) -> str:
    return (f"median {statistics.median(rates):.1f}/s "
            f"(range {min(rates):.1f}-{max(rates):.1f})")


async def main(n: int, concurrency: int, rounds: int) -> None:
    rng = random.Random(7)
    direct_rates: list[float] = []
    bridge_rates: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        tmpd = Path(tmp)
        broker = Broker(tmpd / "mosquitto").start()
        bridge = None
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

                spec = tmpd / "bridge.json"
                spec.write_text(json.dumps({
                    "db_url": f"sqlite+aiosqlite:///{tmpd}/bridge.db", "manifest": sb.manifest,
                    "request_timeout_s": 10.0, "policy": POLICY}))
                bridge = subprocess.Popen(  # noqa: ASYNC220 - started once, before timing
                    [sys.executable, "-m", "demo.harness", "bridge", "--broker-port",
                     str(broker.port), "--spec", str(spec)], cwd=ROOT)
                await asyncio.sleep(3.0)  # the bridge connects and subscribes
                # Warm-up of both sides (connections, statement caches), not timed.
                await bounded(20, concurrency, lambda i: direct(10**7 + i))
                await through_bridge(broker.port, tmpd, 2 * concurrency,
                                     concurrency, 9)
                print(f"payments={n} per side per round, concurrency={concurrency} "
                      f"(kiosks through the bridge), rounds={rounds}")
                for r in range(rounds):
                    def run_direct(r: int = r) -> object:
                        return bounded(n, concurrency, lambda i: direct(10**6 * (r + 1) + i))
                    order = ("direct", "bridge") if r % 2 == 0 else ("bridge", "direct")
                    for side in order:
                        if side == "direct":
                            direct_ok = 0
                            t = await run_direct()
                            direct_rates.append(direct_ok / t)
                        else:
                            ok, t = await through_bridge(broker.port, tmpd, n,
                                                         concurrency, r)
                            bridge_rates.append(ok / t)
                    print(f"round {r + 1}: direct {direct_rates[-1]:.1f}/s, through bridge "
                          f"{bridge_rates[-1]:.1f}/s, ratio "
                          f"{bridge_rates[-1] / direct_rates[-1]:.3f}", flush=True)
                for p in providers.values():
                    await p.close()
        finally:
            if bridge is not None:
                bridge.terminate()
                bridge.wait(30)
            broker.kill()
    ratios = [b / d for b, d in zip(bridge_rates, direct_rates, strict=True)]
    print(f"direct: {spread(direct_rates)}")
    print(f"through bridge: {spread(bridge_rates)}")
    print(f"per-round ratio: median {statistics.median(ratios):.3f} "
          f"(range {min(ratios):.3f}-{max(ratios):.3f})")
    print(f"payment_ratio={statistics.median(bridge_rates) / statistics.median(direct_rates):.3f}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=400, help="payments per side")
    ap.add_argument("-c", "--concurrency", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds (>= 5)")
    a = ap.parse_args()
    asyncio.run(main(a.n, a.concurrency, a.rounds))
