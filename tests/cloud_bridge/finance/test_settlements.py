"""Automatic settlement postings: payments, refunds and the providers' fees reach the
ledger by themselves, and the T+1 settlement empties each provider's clearing account
into the bank; exactly once however often the job runs, balanced throughout."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cloud_bridge.finance import accounts as A
from cloud_bridge.finance import close as C
from cloud_bridge.finance.jobs import post_pending
from cloud_bridge.finance.reports import trial_balance
from cloud_bridge.finance.settlements import post_settlements
from cloud_bridge.payments.store import business_date
from contract.wire.payments import ChargeParams
from tests.cloud_bridge.payments_fixtures import alipay_code, trade_no, wechat_code

from .helpers import ingest_sales, refund, sale_data

pytestmark = pytest.mark.timeout(90)
CODES = {"wechat": wechat_code, "alipay": alipay_code}


async def _sale(svc, store: str, order_no: str, method: str, amount: int) -> tuple[str, dict]:
    no = trade_no(f"{store}-")
    p = ChargeParams(order_no=order_no, out_trade_no=no, method=method, amount=amount,
                     auth_code=CODES[method]())
    assert (await svc.charge(store, "k1", p))["status"] == "paid"
    return no, sale_data(order_no, [("milk", 1, amount, 1300)], [(method, amount, no)],
                         datetime.now(UTC))


async def test_fees_and_settlements_post_once_and_empty_the_clearing_accounts(pay_service):
    db = pay_service.db
    day = business_date(datetime.now(UTC))
    w1, s1a = await _sale(pay_service, "s1", "s1-k1-1", "wechat", 1130)
    _, s1b = await _sale(pay_service, "s1", "s1-k1-2", "alipay", 2260)
    _, s2a = await _sale(pay_service, "s2", "s2-k1-1", "wechat", 900)
    await ingest_sales(db, "s1", [s1a, s1b])
    await ingest_sales(db, "s2", [s2a])
    # A partial refund of the WeChat sale, at the provider and on the order.
    out_refund_no = await refund(db, "s1-k1-1", 500)
    done = await pay_service.providers["wechat"].refund(w1, out_refund_no, 500, 1130, "CNY")
    assert done.status == "success", done

    first = await post_settlements(db, pay_service, day)
    assert first == {"provider_fee": 3, "settlement": 3}
    assert await post_settlements(db, pay_service, day) == {"provider_fee": 0, "settlement": 0}
    await post_pending(db)  # the sales and the refund, by the posting job
    async with db.session() as s:
        tb1 = await trial_balance(s, store="s1")
        tb2 = await trial_balance(s, store="s2")
    # WeChat: 1130 - 500 refunded, fee 0.07 taken and 0.03 given back; Alipay: fee 0.14.
    assert tb1[A.PROVIDER_FEES] == 4 + 14
    assert tb1[A.BANK] == (1130 - 500 - 4) + (2260 - 14)
    assert tb1.get(A.clearing("wechat"), 0) == 0 and tb1.get(A.clearing("alipay"), 0) == 0
    assert tb2[A.BANK] == 900 - 5 and tb2.get(A.clearing("wechat"), 0) == 0
    assert sum(tb1.values()) == 0 and sum(tb2.values()) == 0
    # The evening close finds the fees posted already: nothing twice.
    await C.reconcile(db, "s1", day, await C.fetch_bills(pay_service, day))
    async with db.session() as s:
        assert (await trial_balance(s, store="s1"))[A.PROVIDER_FEES] == 4 + 14


async def test_a_sale_refunded_the_same_day_settles_nothing(pay_service):
    db = pay_service.db
    day = business_date(datetime.now(UTC))
    w1, sale = await _sale(pay_service, "s3", "s3-k1-1", "wechat", 300)
    await ingest_sales(db, "s3", [sale])
    out_refund_no = await refund(db, "s3-k1-1", 300)
    assert (await pay_service.providers["wechat"].refund(w1, out_refund_no, 300, 300, "CNY")
            ).status == "success"
    counts = await post_settlements(db, pay_service, day)
    # Paid and refunded the same day: the fee came back too, nothing to pay out.
    assert counts == {"provider_fee": 0, "settlement": 0}
