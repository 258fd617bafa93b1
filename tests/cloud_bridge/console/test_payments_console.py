"""Money through the console with real provider sandboxes: a refund executed by the
provider, and a reconciliation job that finds what the bills and the database disagree on."""

from __future__ import annotations

import asyncio
import re

import pytest
from sqlalchemy import delete, select

from cloud_bridge import auth
from cloud_bridge.console.models import ConsoleAudit
from cloud_bridge.payments.models import Payment

from ..payments_fixtures import sandbox, sandbox_keys
from ..test_payments_api import charged_kiosk_order, pay_client
from .conftest import login, page_csrf

__all__ = ["pay_client", "sandbox", "sandbox_keys"]  # fixtures shared with the payments tests

pytestmark = pytest.mark.timeout(90)


async def test_refund_from_the_console_is_executed_by_the_provider(pay_client, sandbox, db):
    async with db.session() as s:
        await auth.create_admin_user(s, "clerk", "secret-clerk", auth.STORE_STAFF, "s1")
    trade_no = await charged_kiosk_order(pay_client, db, "RC-0001", method="alipay")
    await login(pay_client, "clerk")
    token = await page_csrf(pay_client, "/console/orders/RC-0001")
    r = await pay_client.post("/console/orders/RC-0001/refund/execute",
                              data={"csrf": token, "amount": "2.50", "reason": "破损"})
    text = await r.text()
    assert r.status == 200 and 'class="badge st-succeeded"' in text and "¥2.50" in text
    assert [x.amount for x in sandbox.alipay.ledger.trades[trade_no].refunds.values()] == [250]
    text = await (await pay_client.get("/console/orders/RC-0001")).text()
    assert 'id="order-refunded">¥2.50<' in text and "部分退款" in text
    async with db.session() as s:
        audit = (await s.scalars(select(ConsoleAudit))).one()
    assert (audit.action, audit.outcome, audit.detail["status"]) == ("refund", "ok", "succeeded")


async def _job_page(client, location: str) -> str:
    for _ in range(300):
        job = await (await client.get(location, headers={"Accept": "application/json"})).json()
        if job["status"] != "running":
            assert job["status"] == "done", job
            return await (await client.get(location)).text()
        await asyncio.sleep(0.05)
    raise AssertionError("reconciliation did not finish")


async def test_reconciliation_job_reports_the_bills_against_the_database(pay_client, db):
    async with db.session() as s:
        await auth.create_admin_user(s, "fin", "secret-fin", auth.FINANCE)
    await charged_kiosk_order(pay_client, db, "RC-0002", method="alipay")
    lost = await charged_kiosk_order(pay_client, db, "RC-0003", method="wechat")
    async with db.session() as s:
        day = (await s.scalars(select(Payment.business_date))).first()
    await login(pay_client, "fin")
    token = await page_csrf(pay_client, "/console/payments")
    r = await pay_client.post("/console/payments/reconcile", allow_redirects=False,
                              data={"csrf": token, "date_from": day, "date_to": day})
    assert r.status == 303
    text = await _job_page(pay_client, r.headers["Location"])
    assert 'id="reconcile-result">一致<' in text
    # The database forgets a payment the provider billed: money taken without a record.
    async with db.session() as s:
        await s.execute(delete(Payment).where(Payment.out_trade_no == lost))
    r = await pay_client.post("/console/payments/reconcile", allow_redirects=False,
                              data={"csrf": token, "date_from": day, "date_to": day})
    text = await _job_page(pay_client, r.headers["Location"])
    assert re.search(r"差异: 1<", text) and f"{lost}: missing_in_db" in text
    r = await pay_client.post("/console/payments/reconcile",
                              data={"csrf": token, "date_from": day, "date_to": "2099-01-01"})
    assert r.status == 400
