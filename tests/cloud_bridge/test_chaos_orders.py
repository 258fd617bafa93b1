"""Chaos on the FULL order path: kiosk checkout -> payment -> sale in the journal -> outbox ->
bridge ingest -> stored order, with random gateway faults and the bridge and the kiosks
SIGKILLed at random moments.

Each kiosk is the real agent (tests/cloud_bridge/chaos_kiosk.py: ``Agent`` with the link,
``KioskPayments`` and ``OutboxDrainer`` of ``kiosk_agent.assembly``) driven by a scripted
shopper; the bridge is ``demo.harness bridge`` (``Ingest`` storing events
and serving payment RPCs). A killed kiosk restarts on the same journal (recovery, then
settling what was open, like ``kiosk-agent run``); a killed bridge restarts on its DB.

Afterwards: every payment the sandboxes captured belongs to exactly one order stored by
the bridge with the same total, and is a paid attempt in its kiosk's journal; no
reversed payment has an order; no payment code was debited twice; no attempt is left
pending/unknown; every order is in the bridge once and in its kiosk's journal once; the
outboxes are empty. The counts are printed on one line (``pytest -s``).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import signal
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from cloud_bridge.payments.sandbox import Sandbox
from cloud_bridge.payments.sandbox.ledger import RandomFaults

pytestmark = [pytest.mark.slow, pytest.mark.timeout(200)]

ROOT = Path(__file__).resolve().parents[2]
KIOSKS = ("K1", "K2")
CHECKOUTS_PER_KIOSK = int(os.environ.get("CHAOS_CHECKOUTS_PER_KIOSK", "150"))
SEED = int(os.environ.get("CHAOS_SEED", "20261130"))
KILL_PHASE_S = 40.0          # random kills happen during this long, then the run finishes
RUN_LIMIT_S = 120.0          # kiosks must have finished (settled, drained) by then
FAULT_RATE = 0.08
REQUEST_TIMEOUT_S = 0.3      # bridge -> gateway
POLICY = dict(query_window_s=0.8, query_interval_s=0.1, query_interval_max_s=0.2,
              reverse_attempts=8, reverse_interval_s=0.05, charge_stale_s=1.0,
              lease_margin_s=0.5)
KIOSK_TIMINGS = dict(charge_timeout_s=4.0, settle_timeout_s=30.0, settle_rpc_timeout_s=4.0,
                     settle_retry_s=0.3)
# A resend after 1 s without the bridge's ack (a killed bridge loses its unacked batch).
OUTBOX = dict(window=32, batch=100, ack_timeout_s=1.0)
FINISH_S = 40.0              # a kiosk's bound for settling and draining at the end


async def spawn(args: list[str], log: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, *args, stdout=asyncio.subprocess.DEVNULL, stderr=log.open("ab"),
        cwd=str(ROOT))


def kill(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.send_signal(signal.SIGKILL)


async def bridge_view(db_url: str, manifest: dict) -> dict:
    """Sweep what the kills orphaned (the bridge's periodic settle), then read the DB."""
    from sqlalchemy import select

    from cloud_bridge.db import Database
    from cloud_bridge.models import Alert, Order, StoredEvent
    from demo.harness import payment_service

    async with Database(db_url) as db:
        svc = payment_service(db, manifest, request_timeout_s=REQUEST_TIMEOUT_S, policy=POLICY)
        try:
            open_rows = [r for r in await svc.store.list()
                         if r["status"] not in ("paid", "failed", "reversed")]
            await asyncio.sleep(POLICY["charge_stale_s"])
            await svc.settle_all()
            payments = {r["out_trade_no"]: r["status"] for r in await svc.store.list()}
        finally:
            await svc.close()
        async with db.session() as s:
            orders = [(o.order_no, o.kiosk, o.total, [t.get("out_trade_no")
                                                      for t in (o.details or {}).get("tenders", [])])
                      for o in await s.scalars(select(Order))]
            completed_events = Counter(
                json.loads(p)["data"]["order_no"] for p in await s.scalars(
                    select(StoredEvent.payload).where(StoredEvent.type == "order.completed")))
            dup_alerts = len((await s.scalars(
                select(Alert).where(Alert.kind == "duplicate_order_no"))).all())
    return {"orders": orders, "payments": payments, "swept": len(open_rows),
            "completed_events": completed_events, "dup_alerts": dup_alerts}


async def test_chaos_full_order_path(broker, tmp_path):
    rng = random.Random(SEED)
    logs = tmp_path / "procs.log"
    async with Sandbox(tmp_path / "keys", hold_s=0.8) as sb:
        for gw in (sb.wechat, sb.alipay):
            gw.ledger.faults.random = RandomFaults(
                rate=FAULT_RATE,
                kinds=("timeout", "http_500", "http_503", "userpaying", "systemerror", "drop"),
                ops=("pay", "query", "reverse"), rng=random.Random(rng.random()))
        db_url = f"sqlite+aiosqlite:///{tmp_path}/bridge.db"
        bridge_spec = tmp_path / "bridge.json"
        bridge_spec.write_text(json.dumps({"db_url": db_url, "manifest": sb.manifest,
                                           "request_timeout_s": REQUEST_TIMEOUT_S,
                                           "policy": POLICY}))
        bridge_args = ["-m", "demo.harness", "bridge",
                       "--broker-port", str(broker.port), "--spec", str(bridge_spec)]
        kiosk_args = {}
        for i, k in enumerate(KIOSKS):
            spec = tmp_path / f"kiosk-{k}.json"
            spec.write_text(json.dumps({
                "store": "S1", "kiosk": k, "broker_port": broker.port,
                "journal": str(tmp_path / f"journal-{k}.db"),
                "pricebook": str(ROOT / "config" / "pricebook.example.json"),
                "total": CHECKOUTS_PER_KIOSK, "seed": SEED + i, "timings": KIOSK_TIMINGS,
                "outbox": OUTBOX, "finish_s": FINISH_S,
                "result": str(tmp_path / f"result-{k}.json")}))
            kiosk_args[k] = ["-m", "tests.cloud_bridge.chaos_kiosk", str(spec)]

        bridge = await spawn(bridge_args, logs)
        kiosks = {k: await spawn(a, logs) for k, a in kiosk_args.items()}
        kills = {"bridge": 0, "kiosk": 0}
        start = time.monotonic()
        try:
            while time.monotonic() - start < RUN_LIMIT_S:
                if all(p.returncode == 0 for p in kiosks.values()):
                    break
                await asyncio.sleep(rng.uniform(1.0, 3.0) if time.monotonic() - start
                                    < KILL_PHASE_S else 0.2)
                for k, p in kiosks.items():
                    if p.returncode not in (None, 0, -signal.SIGKILL):
                        pytest.fail(f"kiosk {k} crashed (rc={p.returncode}): see {logs}")
                if bridge.returncode is not None:
                    pytest.fail(f"bridge exited (rc={bridge.returncode}): see {logs}")
                if time.monotonic() - start > KILL_PHASE_S:
                    continue
                if rng.random() < 0.45:
                    kill(bridge)
                    await bridge.wait()
                    kills["bridge"] += 1
                    await asyncio.sleep(rng.uniform(0.1, 1.0))
                    bridge = await spawn(bridge_args, logs)
                else:
                    running = [k for k, p in kiosks.items() if p.returncode is None]
                    if running:
                        k = rng.choice(running)
                        kill(kiosks[k])
                        await kiosks[k].wait()
                        kills["kiosk"] += 1
                        kiosks[k] = await spawn(kiosk_args[k], logs)
            unfinished = [k for k, p in kiosks.items() if p.returncode != 0]
            assert not unfinished, (
                f"kiosks {unfinished} did not finish in {RUN_LIMIT_S}s; see {logs}")
        finally:
            for p in (bridge, *kiosks.values()):
                kill(p)
                await p.wait()
        elapsed = time.monotonic() - start

        sb.all_faults_clear()
        bridge_db = await bridge_view(db_url, sb.manifest)
        results = {k: json.loads((tmp_path / f"result-{k}.json").read_text()) for k in KIOSKS}

        trades = {**sb.wechat.ledger.trades, **sb.alipay.ledger.trades}
        captured = {no: t.amount for no, t in trades.items() if t.state == "SUCCESS"}
        revoked = {no for no, t in trades.items() if t.state in ("REVOKED", "CLOSED")}
        open_trades = {no: t.state for no, t in trades.items()
                       if t.state not in ("SUCCESS", "REVOKED", "CLOSED", "PAYERROR")}
        max_debits = max(sb.wechat.ledger.snapshot()["max_debits_per_code"],
                         sb.alipay.ledger.snapshot()["max_debits_per_code"])

        attempts = {no: a for r in results.values() for no, a in r["attempts"].items()}
        status_of = Counter(a["status"] for a in attempts.values())
        unsettled = {no: a["status"] for no, a in attempts.items()
                     if a["status"] not in ("paid", "reversed", "failed")}
        kiosk_paid = {no for no, a in attempts.items() if a["status"] == "paid"}
        kiosk_orders = {no: o for r in results.values() for no, o in r["orders"].items()}
        kiosk_order_count = sum(len(r["orders"]) for r in results.values())

        bridge_orders = {no: (total, tenders) for no, _k, total, tenders in bridge_db["orders"]}
        orders_of_payment: dict[str, list[str]] = {}
        for no, (_total, tenders) in bridge_orders.items():
            for otn in tenders:
                orders_of_payment.setdefault(otn, []).append(no)
        duplicates = (sum(len(v) - 1 for v in orders_of_payment.values() if len(v) > 1)
                      + sum(n - 1 for n in bridge_db["completed_events"].values() if n > 1)
                      + bridge_db["dup_alerts"])
        lost_payments = sorted(no for no in captured if no not in orders_of_payment)
        lost_orders = sorted(no for no in kiosk_orders if no not in bridge_orders)
        lost = len(lost_payments) + len(lost_orders)
        wrong_total = sorted(no for no, amount in captured.items()
                             for o in orders_of_payment.get(no, [])
                             if bridge_orders[o][0] != amount)
        reversed_with_order = sorted(no for no in revoked if no in orders_of_payment)
        bridge_paid = {no for no, s in bridge_db["payments"].items() if s == "paid"}
        outbox_left = sum(r["outbox_depth"] + r["dead_letters"] for r in results.values())
        faults = Counter()
        for gw in (sb.wechat, sb.alipay):
            faults.update(gw.ledger.faults.fired)
        # Sales whose payment was found paid after a kiosk restart (committed from the draft).
        log_text = logs.read_text(errors="replace")
        recovered = (log_text.count("was paid before a restart")
                     + sum(int(m) for m in re.findall(r"(\d+) sale\(s\) were paid but not", log_text)))
        checkouts = sum(len({a["order_no"] for a in r["attempts"].values()})
                        for r in results.values())
        print(f"\nchaos_orders: checkouts={checkouts} attempts={len(attempts)} "
              f"paid={status_of['paid']} reversed={status_of['reversed']} "
              f"failed={status_of['failed']} unsettled={len(unsettled)} "
              f"captured={len(captured)} orders_bridge={len(bridge_orders)} "
              f"orders_kiosk={kiosk_order_count} duplicates={duplicates} lost={lost} "
              f"max_debits_per_code={max_debits} outbox_left={outbox_left} "
              f"late_settled={sum(r['late_settled'] for r in results.values())} "
              f"recovered_after_restart={recovered} "
              f"bridge_swept={bridge_db['swept']} bridge_kills={kills['bridge']} "
              f"kiosk_kills={kills['kiosk']} faults={dict(faults)} elapsed_s={elapsed:.1f}")

        # A run without chaos proves nothing: the kills and faults must have happened.
        assert kills["bridge"] > 0 and kills["kiosk"] > 0, kills
        assert sum(faults.values()) > 0, dict(faults)
        assert checkouts >= len(KIOSKS) * CHECKOUTS_PER_KIOSK, checkouts
        assert not unsettled, f"attempts left open in the journals: {unsettled}"
        assert not open_trades, f"trades left open at the sandboxes: {open_trades}"
        assert max_debits <= 1, "a payment code was debited twice"
        assert not lost_payments, f"captured payments without a stored order: {lost_payments}"
        assert not lost_orders, f"kiosk orders never stored by the bridge: {lost_orders}"
        assert duplicates == 0, f"{duplicates} duplicated order(s) or payment(s)"
        assert not wrong_total, f"orders whose total differs from the payment: {wrong_total}"
        assert not reversed_with_order, f"reversed payments with an order: {reversed_with_order}"
        assert kiosk_paid == set(captured) == bridge_paid, (
            "paid attempts (kiosk) / captured (sandbox) / paid (bridge) differ: "
            f"{sorted(kiosk_paid ^ set(captured))} {sorted(bridge_paid ^ set(captured))}")
        assert kiosk_order_count == len(kiosk_orders) == len(bridge_orders)
        assert {no: o["total"] for no, o in kiosk_orders.items()} == {
            no: total for no, (total, _t) in bridge_orders.items()}
        for no, o in kiosk_orders.items():
            assert [t for t in o["tenders"] if t] and all(t in kiosk_paid for t in o["tenders"]), \
                f"journal order {no} is not paid by a paid attempt: {o['tenders']}"
        assert outbox_left == 0, "events left in the kiosks' outboxes or dead letters"
