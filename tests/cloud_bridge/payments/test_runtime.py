"""Payments in the bridge app: the periodic settlement job settles what kiosks left unknown."""

from __future__ import annotations

import json

import pytest
from aiohttp.test_utils import TestClient, TestServer

from cloud_bridge.app import create_app
from cloud_bridge.keys import SERVICES_KEY
from cloud_bridge.payments.models import PAID, REVERSED, UNKNOWN
from tests.cloud_bridge.payments_fixtures import trade_no
from tests.support.waiting import until

from ..test_payments_api import paid_unknown, payments_config

pytestmark = pytest.mark.timeout(60)


async def wait_status(svc, no: str, status: str, timeout_s: float = 10.0) -> dict:
    """The payment row once it has ``status`` (the settlement job moves it meanwhile)."""

    async def reached() -> bool:
        return (await svc.store.get(no))["status"] == status

    await until(reached, timeout_s, what=f"payment {no} {status}")
    return await svc.store.get(no)


async def test_settlement_job_settles_abandoned_attempts(db, db_url, sandbox, tmp_path):
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(sandbox.manifest))
    cfg = payments_config(db_url, manifest)
    cfg.payments.settle_interval_s = 0.2
    app = create_app(cfg, db=db)
    async with TestClient(TestServer(app)) as client:
        svc = client.payments = app[SERVICES_KEY].payments
        # The kiosk went away: one attempt was paid at the provider, one never arrived.
        paid_no, _ = await paid_unknown(client, sandbox, "wechat")
        lost_no = trade_no("L")
        await svc.store.create(status=UNKNOWN, out_trade_no=lost_no, order_no="O" + lost_no,
                               store="S1", kiosk="K1", method="alipay", amount=300,
                               currency="CNY")
        assert (await wait_status(svc, paid_no, PAID))["status"] == PAID
        assert (await wait_status(svc, lost_no, REVERSED))["status"] == REVERSED
    assert sandbox.wechat.ledger.trades[paid_no].state == "SUCCESS"   # taken once, kept


async def test_jobs_off_and_payments_disabled(db, db_url, tmp_path):
    cfg = payments_config(db_url, tmp_path / "none.json")
    cfg.payments.manifest = None
    cfg.payments.enabled = False
    app = create_app(cfg, db=db)
    async with TestClient(TestServer(app)):
        assert app[SERVICES_KEY].payments is None
