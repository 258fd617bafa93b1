"""Runnable pieces for the payments bench and chaos test: a bridge payments worker and a
kiosk checkout loop, both over a real Mosquitto, each runnable as its own process
(``python -m demo.harness bridge|kiosk ...``) so they can be killed.

The bridge worker is the cloud engineer's :class:`cloud_bridge.ingest.Ingest` (shared
subscription, RPC dispatch) with the payment service in its services. The kiosk loop
uses the link engineer's :class:`kiosk_agent.link.Link`, the journal engineer's
:class:`kiosk_agent.journal.Journal` and :class:`kiosk_agent.payments.KioskPayments`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import signal
import sys
from pathlib import Path

log = logging.getLogger(__name__)


def bridge_config(broker_port: int, db_url: str, worker: str = "bridge-1"):
    from cloud_bridge.config import BridgeConfig

    return BridgeConfig.model_validate({
        "bridge": {"worker_id": worker},
        "database": {"url": db_url},
        "mqtt": {"port": broker_port, "username": None, "reconnect_min_s": 0.1,
                 "reconnect_max_s": 0.5},
        "rpc": {"handler_modules": ["cloud_bridge.payments.rpc"]},
    })


def payment_service(db, manifest: dict, *, request_timeout_s: float, policy: dict):
    from cloud_bridge.payments.config import PaymentSettings, build_providers
    from cloud_bridge.payments.providers.stored_value import StoredValueProvider
    from cloud_bridge.payments.service import PaymentService
    from cloud_bridge.payments.settlement import SettlementPolicy

    settings = PaymentSettings.from_manifest(manifest, request_timeout_s=request_timeout_s)
    providers = build_providers(settings)
    providers["stored_value"] = StoredValueProvider(db)
    return PaymentService(db, providers, SettlementPolicy(request_timeout_s=request_timeout_s,
                                                          **policy))


async def run_bridge(broker_port: int, db_url: str, manifest: dict, *, request_timeout_s: float,
                     policy: dict, stop: asyncio.Event, worker: str = "bridge-1") -> None:
    """One bridge worker serving payment RPCs until ``stop``."""
    from cloud_bridge.db import Database
    from cloud_bridge.ingest import Ingest
    from cloud_bridge.payments import models  # noqa: F401
    from cloud_bridge.payments import rpc as _rpc  # noqa: F401  (registers the handlers)
    from cloud_bridge.services import BridgeServices

    config = bridge_config(broker_port, db_url, worker)
    async with Database(db_url) as db:
        await db.create_all()
        svc = payment_service(db, manifest, request_timeout_s=request_timeout_s, policy=policy)
        try:
            services = BridgeServices(config, payments=svc)
            async with Ingest(config, db, services=services) as ingest:
                await asyncio.wait_for(ingest.connected.wait(), 10)
                await stop.wait()
        finally:
            await svc.close()


def kiosk_link(broker_port: int, store: str, kiosk: str):
    from kiosk_agent.config import MqttSection
    from kiosk_agent.link import Link

    return Link(MqttSection(port=broker_port, keepalive_s=5), store, kiosk)


def payment_code(method: str, rng: random.Random) -> str:
    if method == "wechat":
        return f"13{rng.randrange(10**15, 10**16)}"
    return f"28{rng.randrange(10**15, 10**16)}"


async def run_kiosk(broker_port: int, journal_path: Path, total: int, seed: int,
                    timings: dict, store: str = "S1", kiosk: str = "K1") -> dict:
    """Checkouts numbered 0..total-1 (resumable: a restarted kiosk settles what the journal
    holds as pending/unknown, then continues after the last attempt it persisted)."""
    from kiosk_agent.journal import Journal
    from kiosk_agent.payments import KioskPayments

    rng = random.Random(seed ^ int.from_bytes(journal_path.name.encode()[:4], "big")
                        ^ random.getrandbits(32))
    link = kiosk_link(broker_port, store, kiosk)
    async with Journal(journal_path, store, kiosk) as journal, link:
        pay = KioskPayments(link, journal, **timings)
        await link.wait_connected(10)
        await pay.resume_unsettled()
        done = {a.out_trade_no for a in await journal.payment_attempts()}
        for i in range(total):
            no = f"CH{seed:04d}{i:06d}"
            if no in done:
                continue
            method = ("wechat", "alipay")[i % 2]
            amount = 100 + (i * 37) % 9000
            await journal.begin_payment_attempt(f"O{no}", no, method, amount, "CNY")
            await pay.charge(f"O{no}", no, method, amount, "CNY", payment_code(method, rng))
        # Anything still unknown (e.g. settle timed out while the bridge was down).
        for _ in range(20):
            left = [a for s in ("pending", "unknown") for a in await journal.payment_attempts(status=s)]
            if not left:
                break
            await pay.resume_unsettled()
        attempts = await journal.payment_attempts()
        await link.close()
    return {a.out_trade_no: a.status for a in attempts}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="payments-harness")
    ap.add_argument("role", choices=["bridge", "kiosk"])
    ap.add_argument("--broker-port", type=int, required=True)
    ap.add_argument("--spec", required=True, help="JSON file with the run's parameters")
    args = ap.parse_args(argv)
    spec = json.loads(Path(args.spec).read_text())
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")

    async def go() -> dict | None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        if args.role == "bridge":
            await run_bridge(args.broker_port, spec["db_url"], spec["manifest"],
                             request_timeout_s=spec["request_timeout_s"], policy=spec["policy"],
                             stop=stop, worker=spec.get("worker", "bridge-1"))
            return None
        return await run_kiosk(args.broker_port, Path(spec["journal"]), spec["total"],
                               spec["seed"], spec["timings"], kiosk=spec.get("kiosk", "K1"))

    result = asyncio.run(go())
    if result is not None:
        Path(spec["result"]).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
