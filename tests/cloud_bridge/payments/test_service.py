"""PaymentService notifications: verified ones settle, forged/replayed/mismatched change nothing."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

import pytest

from cloud_bridge.payments.models import PAID, UNKNOWN
from cloud_bridge.payments.providers.base import ChargeRequest
from tests.cloud_bridge.payments_fixtures import alipay_code, trade_no

pytestmark = pytest.mark.timeout(60)


async def paid_at_alipay(pay_service, sandbox, recorded_amount: int) -> tuple[str, dict]:
    """A trade paid at the (sandbox) provider that the bridge holds as unknown."""
    no = trade_no()
    out = await pay_service.providers["alipay"].charge(
        ChargeRequest(out_trade_no=no, amount=500, auth_code=alipay_code()))
    assert out.status == "paid"
    await pay_service.store.create(status=UNKNOWN, out_trade_no=no, order_no="O" + no,
                                   store="S1", kiosk="K1", method="alipay",
                                   amount=recorded_amount, currency="CNY")
    return no, sandbox.alipay.notification(sandbox.alipay.ledger.trades[no])


async def test_verified_notification_settles_once(pay_service, sandbox):
    no, params = await paid_at_alipay(pay_service, sandbox, 500)
    body = urlencode(params).encode()
    assert await pay_service.handle_notification("alipay", {}, body) is True
    assert (await pay_service.store.get(no))["status"] == PAID
    assert await pay_service.handle_notification("alipay", {}, body) is False  # replayed


async def test_forged_and_mismatched_notifications_change_nothing(
        pay_service, sandbox, caplog):
    no, params = await paid_at_alipay(pay_service, sandbox, 500)
    forged = urlencode({**params, "total_amount": "0.01"}).encode()
    with caplog.at_level(logging.WARNING):
        assert await pay_service.handle_notification("alipay", {}, forged) is False
    assert "refused alipay notification" in caplog.text
    assert (await pay_service.store.get(no))["status"] == UNKNOWN

    other, params = await paid_at_alipay(pay_service, sandbox, 999)  # we expected 9.99
    assert await pay_service.handle_notification(
        "alipay", {}, urlencode(params).encode()) is False
    assert (await pay_service.store.get(other))["status"] == UNKNOWN
