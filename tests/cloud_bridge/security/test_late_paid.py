"""A signed WeChat "paid" notification for an attempt the bridge recorded failed or reversed:
raised (alert), refunded through the orphan path, never accepted silently. Posted over
HTTP like WeChat would, with lower-cased header names as a proxy may send them."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from cloud_bridge.models import Alert
from cloud_bridge.payments.models import FAILED, PAID, REVERSED, PaymentRefund
from cloud_bridge.payments.orphans import orphan_refund_no
from cloud_bridge.payments.providers.base import ChargeRequest
from tests.cloud_bridge.payments_fixtures import sandbox, sandbox_keys, trade_no, wechat_code
from tests.cloud_bridge.test_payments_api import notes, pay_client

__all__ = ["pay_client", "sandbox", "sandbox_keys"]  # fixtures
pytestmark = pytest.mark.timeout(60)


async def _paid_but_recorded(client, sandbox, status: str) -> tuple[str, object]:
    svc = client.payments
    no = trade_no("L")
    out = await svc.providers["wechat"].charge(ChargeRequest(out_trade_no=no, amount=500,
                                                             auth_code=wechat_code()))
    for _ in range(20):  # a busy machine can outlast the 0.5 s request timeout: ask again
        if out.status == "paid":
            break
        out = await svc.providers["wechat"].query(no)
    assert out.status == "paid"
    await svc.store.create(status=status, out_trade_no=no, order_no="O" + no, store="S1",
                           kiosk="K1", method="wechat", amount=500, currency="CNY")
    return no, sandbox.wechat.ledger.trades[no]


@pytest.mark.parametrize("recorded", [FAILED, REVERSED])
async def test_paid_after_failed_is_alerted_and_refunded(pay_client, sandbox, db, recorded):
    no, trade = await _paid_but_recorded(pay_client, sandbox, recorded)
    headers, body = notes(sandbox, "wechat", trade)
    lowered = {k.lower(): v for k, v in headers.items()}
    r = await pay_client.post("/api/v1/pay/notify/wechat", data=body, headers=lowered)
    assert r.status == 204, await r.text()
    assert (await pay_client.payments.store.get(no))["status"] == PAID
    async with db.read() as s:
        alerts = list(await s.scalars(select(Alert).where(Alert.kind == "paid_after_failed")))
        refund = await s.scalar(select(PaymentRefund).where(
            PaymentRefund.out_refund_no == orphan_refund_no(no)))
    assert [(a.store, a.detail["out_trade_no"], a.detail["was"]) for a in alerts] == [
        ("S1", no, recorded)]
    assert refund is not None and refund.status == "success" and refund.amount == 500
    assert [x.amount for x in trade.refunds.values()] == [500]  # the money went back
    # The same notification again is a replay: refused, and nothing is refunded twice.
    r = await pay_client.post("/api/v1/pay/notify/wechat", data=body, headers=lowered)
    assert r.status == 400
    assert [x.amount for x in trade.refunds.values()] == [500]


async def test_lower_cased_headers_settle_an_unknown_payment(pay_client, sandbox):
    from cloud_bridge.payments.models import UNKNOWN

    no, trade = await _paid_but_recorded(pay_client, sandbox, UNKNOWN)
    headers, body = notes(sandbox, "wechat", trade)
    r = await pay_client.post("/api/v1/pay/notify/wechat", data=body,
                              headers={k.lower(): v for k, v in headers.items()})
    assert r.status == 204, await r.text()
    assert (await pay_client.payments.store.get(no))["status"] == PAID
