"""Chaos: checkouts from kiosks through Mosquitto and the bridge to the sandboxes, with random
gateway faults and the bridge and the kiosks SIGKILLed at random moments.

Afterwards: the sandbox ledgers, the bridge's payments and the kiosks' journals agree;
no payment code was debited twice; every attempt is settled paid or reversed; every
paid checkout exists once. The counts are printed (``pytest -s`` shows them).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sys
import time
from pathlib import Path

import pytest

from cloud_bridge.payments.sandbox import Sandbox
from cloud_bridge.payments.sandbox.ledger import RandomFaults

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

ROOT = Path(__file__).resolve().parents[3]
KIOSKS = ("K1", "K2")
CHECKOUTS_PER_KIOSK = int(os.environ.get("CHAOS_CHECKOUTS_PER_KIOSK", "150"))
KILL_PHASE_S = 45.0          # random kills happen during this long, then the run finishes
RUN_LIMIT_S = 150.0
REQUEST_TIMEOUT_S = 0.3      # bridge -> gateway
POLICY = dict(query_window_s=0.8, query_interval_s=0.1, query_interval_max_s=0.2,
              reverse_attempts=8, reverse_interval_s=0.05, charge_stale_s=1.0,
              lease_margin_s=0.5)
KIOSK_TIMINGS = dict(charge_timeout_s=4.0, settle_timeout_s=30.0, settle_rpc_timeout_s=4.0,
                     settle_retry_s=0.3)


async def spawn(role: str, broker_port: int, spec: Path, log: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "demo.harness", role,
        "--broker-port", str(broker_port), "--spec", str(spec),
        stdout=asyncio.subprocess.DEVNULL, stderr=log.open("ab"),
        cwd=str(ROOT))


def kill(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.send_signal(signal.SIGKILL)


async def test_chaos_checkouts(broker, tmp_path):
    rng = random.Random(int(os.environ.get("CHAOS_SEED", "20261129")))
    async with Sandbox(tmp_path / "keys", hold_s=0.8) as sb:
        for gw in (sb.wechat, sb.alipay):
            gw.ledger.faults.random = RandomFaults(
                rate=0.08, kinds=("timeout", "http_500", "userpaying", "systemerror", "drop"),
                ops=("pay", "query", "reverse"), rng=random.Random(rng.random()))
        db_url = f"sqlite+aiosqlite:///{tmp_path}/bridge.db"
        bridge_spec = tmp_path / "bridge.json"
        bridge_spec.write_text(json.dumps({"db_url": db_url, "manifest": sb.manifest,
                                           "request_timeout_s": REQUEST_TIMEOUT_S,
                                           "policy": POLICY}))
        kiosk_specs = {}
        for i, k in enumerate(KIOSKS):
            spec = tmp_path / f"kiosk-{k}.json"
            spec.write_text(json.dumps({"journal": str(tmp_path / f"journal-{k}.db"),
                                        "total": CHECKOUTS_PER_KIOSK, "seed": 100 + i,
                                        "timings": KIOSK_TIMINGS, "kiosk": k,
                                        "result": str(tmp_path / f"result-{k}.json")}))
            kiosk_specs[k] = spec
        logs = tmp_path / "procs.log"
        bridge = await spawn("bridge", broker.port, bridge_spec, logs)
        kiosks = {k: await spawn("kiosk", broker.port, s, logs) for k, s in kiosk_specs.items()}
        kills = {"bridge": 0, "kiosk": 0}
        start = time.monotonic()
        try:
            while time.monotonic() - start < RUN_LIMIT_S:
                if all(p.returncode == 0 for p in kiosks.values()):
                    break
                await asyncio.sleep(rng.uniform(1.5, 4.0))
                for k, p in list(kiosks.items()):
                    if p.returncode not in (None, 0):
                        pytest.fail(f"kiosk {k} crashed: see {logs}")
                if time.monotonic() - start > KILL_PHASE_S:
                    continue
                if rng.random() < 0.5:
                    kill(bridge)
                    await bridge.wait()
                    kills["bridge"] += 1
                    await asyncio.sleep(rng.uniform(0.1, 1.0))
                    bridge = await spawn("bridge", broker.port, bridge_spec, logs)
                else:
                    k = rng.choice([k for k, p in kiosks.items() if p.returncode is None]
                                   or list(kiosks))
                    if kiosks[k].returncode is None:
                        kill(kiosks[k])
                        await kiosks[k].wait()
                        kills["kiosk"] += 1
                        kiosks[k] = await spawn("kiosk", broker.port, kiosk_specs[k], logs)
            assert all(p.returncode == 0 for p in kiosks.values()), \
                f"kiosks did not finish in {RUN_LIMIT_S}s; see {logs}"
        finally:
            for p in (bridge, *kiosks.values()):
                kill(p)
                await p.wait()
        elapsed = time.monotonic() - start

        # The bridge's periodic sweep (settle_all) on whatever the kills left orphaned.
        from cloud_bridge.db import Database
        from demo.harness import payment_service

        async with Database(db_url) as db:
            svc = payment_service(db, sb.manifest, request_timeout_s=REQUEST_TIMEOUT_S,
                                  policy=POLICY)
            sb.all_faults_clear()
            await asyncio.sleep(POLICY["charge_stale_s"])
            await svc.settle_all()
            stored = {r["out_trade_no"]: r for r in await svc.store.list()}
            await svc.close()

        attempts: dict[str, str] = {}
        for k in KIOSKS:
            attempts.update(json.loads((tmp_path / f"result-{k}.json").read_text()))
        trades = {**sb.wechat.ledger.trades, **sb.alipay.ledger.trades}

        held = {no for no, t in trades.items() if t.state == "SUCCESS"}
        kiosk_paid = {no for no, s in attempts.items() if s == "paid"}
        kiosk_reversed = {no for no, s in attempts.items() if s == "reversed"}
        db_paid = {no for no, r in stored.items() if r["status"] == "paid"}
        unsettled = {no: s for no, s in attempts.items() if s not in ("paid", "reversed")}
        max_debits = max(sb.wechat.ledger.snapshot()["max_debits_per_code"],
                         sb.alipay.ledger.snapshot()["max_debits_per_code"])
        faults = {**sb.wechat.ledger.faults.fired}
        for kind, n in sb.alipay.ledger.faults.fired.items():
            faults[kind] = faults.get(kind, 0) + n
        print(f"\nchaos: checkouts={len(attempts)} paid={len(kiosk_paid)} "
              f"reversed={len(kiosk_reversed)} unsettled={len(unsettled)} "
              f"sandbox_held={len(held)} bridge_paid={len(db_paid)} "
              f"max_debits_per_code={max_debits} bridge_kills={kills['bridge']} "
              f"kiosk_kills={kills['kiosk']} faults={faults} elapsed_s={elapsed:.1f}")

        # A run without chaos proves nothing: the kills and faults must have happened.
        assert kills["bridge"] > 0 and kills["kiosk"] > 0, kills
        assert sum(faults.values()) > 0, faults
        assert len(attempts) == len(KIOSKS) * CHECKOUTS_PER_KIOSK
        assert not unsettled, unsettled
        assert max_debits <= 1
        assert kiosk_paid == held == db_paid
        for no in kiosk_reversed:
            assert no not in held and stored.get(no, {"status": "reversed"})["status"] in (
                "reversed", "failed")
        assert all(t.state in ("SUCCESS", "REVOKED", "PAYERROR") for t in trades.values())
