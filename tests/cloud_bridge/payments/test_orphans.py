"""Orphan payments: captured for an order that was completed with another tender.

Real sandbox gateways and the bridge database (SQLite, and PostgreSQL when reachable):
the sweep refunds the orphan once at the provider, touches nothing else, and staff see
the refund in the admin API.
"""

from __future__ import annotations

import json

import pytest
from aiohttp.test_utils import TestClient, TestServer

from cloud_bridge.app import create_app
from cloud_bridge.keys import SERVICES_KEY
from cloud_bridge.payments.orphans import ORPHAN_REASON, OrphanSweep, orphan_refund_no
from cloud_bridge.payments.refunds import RefundService
from contract.wire.payments import ChargeParams
from tests.cloud_bridge.payments_fixtures import alipay_code

from ..test_payments_api import admin_headers, charged_kiosk_order, payments_config

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def orphan_client(db, db_url, sandbox, tmp_path):
    """The bridge app with payments from the sandbox; no periodic jobs (the test sweeps)."""
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(sandbox.manifest))
    cfg = payments_config(db_url, manifest)
    cfg.payments.orphan_interval_s = 0
    app = create_app(cfg, db=db)
    async with TestClient(TestServer(app)) as c:
        c.payments = app[SERVICES_KEY].payments
        yield c


async def charge(client, order_no: str, out_trade_no: str, amount: int = 1700) -> None:
    res = await client.payments.charge("s1", "k1", ChargeParams(
        order_no=order_no, out_trade_no=out_trade_no, method="alipay", amount=amount,
        auth_code=alipay_code()))
    assert res["status"] == "paid"


def test_orphan_refund_numbers_are_stable_and_fit_the_providers():
    assert orphan_refund_no("K1-20240501-0001-1") == "OR-K1-20240501-0001-1"
    long_no = "X" * 64
    assert orphan_refund_no(long_no) == orphan_refund_no(long_no)
    assert len(orphan_refund_no(long_no)) <= 64


async def test_orphan_payment_is_refunded_once_and_nothing_else(orphan_client, sandbox, db):
    client = orphan_client
    h = await admin_headers(client, db)
    ledger = sandbox.alipay.ledger
    # T1 was the first attempt on order OX-0001: left unknown at the kiosk, it paid later.
    t1 = "OX-0001-orphan-1"
    await charge(client, "OX-0001", t1)
    # The kiosk committed OX-0001 with its second attempt T2 (listed as the tender).
    t2 = await charged_kiosk_order(client, db, "OX-0001", method="alipay")
    # A sale whose order lists its payment, and a payment whose order has not arrived.
    listed = await charged_kiosk_order(client, db, "OX-0002", method="alipay")
    waiting = "OX-0003-1"
    await charge(client, "OX-0003", waiting)

    # Staff refund part of OX-0001: it comes out of T2 (the order's tender), never T1.
    r = await client.post("/api/v1/admin/orders/OX-0001/refunds", headers=h,
                          json={"amount": 200, "reason": "damaged"})
    assert (await r.json())["status"] == "succeeded"
    assert [x.amount for x in ledger.trades[t2].refunds.values()] == [200]
    assert ledger.trades[t1].refunds == {}

    refunds = RefundService(client.payments)
    # Within the grace period nothing is touched.
    assert await OrphanSweep(db, refunds, grace_s=3600).run() == 0
    assert ledger.trades[t1].refunds == {}

    sweep = OrphanSweep(db, refunds, grace_s=0)
    assert await sweep.run() == 1
    assert await sweep.run() == 0  # a repeat sweep refunds nothing more
    assert await OrphanSweep(db, refunds, grace_s=0).run() == 0  # nor another worker
    (refund,) = ledger.trades[t1].refunds.values()
    assert refund.amount == 1700 and refund.out_refund_no == orphan_refund_no(t1)
    assert [x.amount for x in ledger.trades[t2].refunds.values()] == [200]
    assert ledger.trades[listed].refunds == {}
    assert ledger.trades[waiting].refunds == {}
    assert (await client.payments.store.get(t1))["refunded"] == 1700
    assert (await client.payments.store.get(waiting))["refunded"] == 0

    items = (await (await client.get("/api/v1/admin/refunds", headers=h)).json())["items"]
    orphan = [x for x in items if x["reason"] == ORPHAN_REASON]
    assert [(x["order_no"], x["amount"], x["status"], x["out_refund_no"]) for x in orphan] == [
        ("OX-0001", 1700, "succeeded", orphan_refund_no(t1))]
    # The order itself was paid by T2: its totals show only the staff refund.
    detail = await (await client.get("/api/v1/admin/orders/OX-0001", headers=h)).json()
    assert detail["refunded_total"] == 200 and detail["status"] == "partially_refunded"
    # The executor's loop never picks the orphan refund record up.
    assert await client.app[SERVICES_KEY].refunds.execute_open() == 0


async def test_orphan_sweep_is_logged_once(orphan_client, sandbox, db, caplog):
    client = orphan_client
    await charge(client, "OX-0100", "OX-0100-1")
    await charged_kiosk_order(client, db, "OX-0100", method="alipay")
    sweep = OrphanSweep(db, RefundService(client.payments), grace_s=0)
    with caplog.at_level("WARNING", logger="cloud_bridge.payments.orphans"):
        await sweep.run()
        await sweep.run()
    warnings = [r for r in caplog.records if r.name == "cloud_bridge.payments.orphans"]
    assert len(warnings) == 1 and "OX-0100-1" in warnings[0].getMessage()
