"""Two stores whose kiosks share the id ``K1`` sell at the same time through one bridge and a
real Mosquitto: every order and every payment lands once, on the right store.

Each kiosk is the real agent in its own process (``tests.cloud_bridge.chaos_kiosk``: the
checkout, journal, link, payments client and outbox of ``kiosk-agent run``) driven by a
scripted shopper; the bridge is ``demo.harness bridge`` (ingest + payment RPCs) on the
payment sandboxes.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from cloud_bridge.db import Database
from cloud_bridge.migrations import import_models
from cloud_bridge.models import Alert, Order
from cloud_bridge.payments.models import Payment
from cloud_bridge.payments.sandbox import Sandbox
from contract.numbers import valid_out_trade_no

pytestmark = [pytest.mark.timeout(120)]

ROOT = Path(__file__).resolve().parents[3]
STORES = ("S1", "S2")
CHECKOUTS = 12
POLICY = dict(query_window_s=2.0, query_interval_s=0.1, query_interval_max_s=0.3,
              reverse_attempts=5, reverse_interval_s=0.1, charge_stale_s=2.0, lease_margin_s=0.5)
TIMINGS = dict(charge_timeout_s=5.0, settle_timeout_s=20.0, settle_rpc_timeout_s=5.0,
               settle_retry_s=0.3)


def _dead_letters(path: Path) -> list:
    import sqlite3

    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT type, reason FROM dead_letters").fetchall()


async def test_two_stores_same_kiosk_id_sell_at_once(broker, tmp_path):
    logs = tmp_path / "procs.log"
    async with Sandbox(tmp_path / "keys", hold_s=0.5) as sb:
        db_url = f"sqlite+aiosqlite:///{tmp_path}/bridge.db"
        import_models()  # every domain's tables (sales move supply lots, post to finance)
        async with Database(db_url) as db:
            await db.create_all()
        (tmp_path / "bridge.json").write_text(json.dumps(
            {"db_url": db_url, "manifest": sb.manifest, "request_timeout_s": 2.0,
             "policy": POLICY}))
        bridge = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "demo.harness", "bridge", "--broker-port", str(broker.port),
            "--spec", str(tmp_path / "bridge.json"), cwd=str(ROOT),
            stdout=asyncio.subprocess.DEVNULL, stderr=logs.open("ab"))
        kiosks = []
        for i, store in enumerate(STORES):
            spec = tmp_path / f"kiosk-{store}.json"
            spec.write_text(json.dumps({
                "store": store, "kiosk": "K1", "broker_port": broker.port,
                "journal": str(tmp_path / f"journal-{store}.db"),
                "pricebook": str(ROOT / "config" / "pricebook.example.json"),
                "total": CHECKOUTS, "seed": 7 + i, "timings": TIMINGS,
                "outbox": {"window": 16, "batch": 50, "ack_timeout_s": 2.0}, "finish_s": 30,
                "result": str(tmp_path / f"result-{store}.json")}))
            kiosks.append(await asyncio.create_subprocess_exec(
                sys.executable, "-m", "tests.cloud_bridge.chaos_kiosk", str(spec), cwd=str(ROOT),
                stdout=asyncio.subprocess.DEVNULL, stderr=logs.open("ab")))
        try:
            done = asyncio.gather(*(k.wait() for k in kiosks))
            await asyncio.wait([done, asyncio.ensure_future(bridge.wait())], timeout=100,
                               return_when=asyncio.FIRST_COMPLETED)
            assert bridge.returncode is None, logs.read_text()[-3000:]
            codes = await asyncio.wait_for(done, 1)
            assert codes == [0, 0], logs.read_text()[-3000:]
        finally:
            for p in (bridge, *kiosks):
                if p.returncode is None:
                    p.kill()
                    await p.wait()
        captured = {no: t.amount for gw in (sb.wechat, sb.alipay)
                    for no, t in gw.ledger.trades.items() if t.state == "SUCCESS"}

    results = {s: json.loads((tmp_path / f"result-{s}.json").read_text()) for s in STORES}
    async with Database(db_url) as db, db.session() as s:
        orders = {o.order_no: o for o in await s.scalars(select(Order))}
        payments = {p.out_trade_no: p for p in await s.scalars(select(Payment))}
        dups = (await s.scalars(select(Alert).where(Alert.kind == "duplicate_order_no"))).all()
    assert not dups
    for store, result in results.items():
        assert len(result["orders"]) == CHECKOUTS, result["counts"]
        assert result["outbox_depth"] == 0, result
        assert result["dead_letters"] == 0, _dead_letters(tmp_path / f"journal-{store}.db")
        for no, o in result["orders"].items():
            assert no.startswith(f"{store}-K1-")
            assert (orders[no].store, orders[no].kiosk, orders[no].total) == (store, "K1",
                                                                              o["total"])
            for otn in o["tenders"]:
                assert valid_out_trade_no(otn) and otn.startswith(no + "-")
                assert (payments[otn].store, payments[otn].order_no) == (store, no)
                assert captured[otn] == o["total"]
    # Nothing else: every stored order and every captured payment is one of those.
    assert len(orders) == 2 * CHECKOUTS
    kiosk_paid = {otn for r in results.values() for o in r["orders"].values()
                  for otn in o["tenders"]}
    assert set(captured) == kiosk_paid
