"""Charge and settlement through the PaymentService: never charged twice, unknowns settled."""

from __future__ import annotations

import asyncio
import logging

import pytest

from cloud_bridge.payments.sandbox import FaultRule
from contract.wire.payments import ChargeParams, SettleParams
from tests.cloud_bridge.payments_fixtures import alipay_code, trade_no, wechat_code

pytestmark = pytest.mark.timeout(60)


def params(method: str, code: str | None, amount: int = 1500, no: str | None = None):
    return ChargeParams(order_no="O" + (no or trade_no()), out_trade_no=no or trade_no(),
                        method=method, amount=amount, auth_code=code)


CODES = {"wechat": wechat_code, "alipay": alipay_code}


@pytest.mark.parametrize("method", ["wechat", "alipay"])
async def test_paid_and_repeat_never_charges_twice(pay_service, sandbox, method):
    p = params(method, CODES[method]())
    res = await pay_service.charge("S1", "K1", p)
    assert res["status"] == "paid" and res["message_zh"] and res["message_en"]
    again = await pay_service.charge("S1", "K1", p)
    assert again["status"] == "paid"
    gw = getattr(sandbox, method)
    assert gw.ledger.snapshot()["max_debits_per_code"] == 1
    assert len([r for r in gw.ledger.bill if r.out_trade_no == p.out_trade_no]) == 1
    other = p.model_copy(update={"amount": 9999})
    assert (await pay_service.charge("S1", "K1", other))["status"] == "failed"


@pytest.mark.parametrize("method", ["wechat", "alipay"])
@pytest.mark.parametrize("fault,expect", [
    (dict(kind="userpaying", polls=2), "paid"),          # payer confirms within the window
    (dict(kind="userpaying", polls=50), "reversed"),     # never confirms: reversed
    (dict(kind="timeout"), "paid"),                      # charged, reply lost: found by query
    (dict(kind="http_500"), "paid"),
    (dict(kind="systemerror"), "reversed"),              # never reached the ledger
    (dict(kind="drop"), "reversed"),
])
async def test_unknown_outcomes_settle(pay_service, sandbox, method, fault, expect):
    gw = getattr(sandbox, method)
    gw.ledger.faults.add(FaultRule(**fault))
    p = params(method, CODES[method]())
    res = await pay_service.charge("S1", "K1", p)
    assert res["status"] == expect, res
    trade = gw.ledger.trades.get(p.out_trade_no)
    if expect == "paid":
        assert trade.state == "SUCCESS"
    elif trade is not None:
        assert trade.state == "REVOKED"
    assert gw.ledger.snapshot()["max_debits_per_code"] <= 1


async def test_reverse_repeated_while_provider_asks(pay_service, sandbox):
    sandbox.alipay.ledger.faults.add(FaultRule("userpaying", polls=99))
    sandbox.alipay.ledger.faults.add(FaultRule("systemerror", op="reverse", times=2))
    p = params("alipay", alipay_code())
    res = await pay_service.charge("S1", "K1", p)
    assert res["status"] == "reversed"
    assert sandbox.alipay.ledger.faults.fired["systemerror"] == 2


async def test_budget_returns_unknown_then_settle_finishes(pay_service, sandbox):
    sandbox.wechat.ledger.faults.add(FaultRule("userpaying", polls=99))
    p = params("wechat", wechat_code())
    res = await pay_service.charge("S1", "K1", p, budget_s=0.15)
    assert res["status"] == "unknown"
    assert "请勿重复付款" in res["message_zh"] or "手机" in res["message_zh"]
    await asyncio.sleep(0.9)
    settled = await pay_service.settle("S1", "K1", SettleParams(
        out_trade_no=p.out_trade_no, method="wechat", amount=p.amount))
    assert settled["status"] == "reversed"
    assert (await pay_service.status(p.out_trade_no, "S1", "K1"))["status"] == "reversed"


async def test_settle_before_charge_blocks_late_charge(pay_service, sandbox):
    """Kiosk restarted and settles; the original charge request arrives afterwards."""
    p = params("wechat", wechat_code())
    settled = await pay_service.settle("S1", "K1", SettleParams(
        out_trade_no=p.out_trade_no, method="wechat", amount=p.amount))
    assert settled["status"] == "reversed"
    late = await pay_service.charge("S1", "K1", p)
    assert late["status"] == "reversed"
    assert p.out_trade_no not in sandbox.wechat.ledger.trades


async def test_orphaned_charging_row_is_settled(pay_service, sandbox):
    """The bridge died between sending the charge and recording the result."""
    stale_s = pay_service.policy.charge_stale_s
    # Fresh until the test says otherwise: a loaded machine may take longer than the
    # 0.5 s to get from creating the row to the first settle.
    pay_service.policy.charge_stale_s = 3600
    p = params("alipay", alipay_code())
    await pay_service.store.create(status="charging", out_trade_no=p.out_trade_no,
                                   order_no=p.order_no, store="S1", kiosk="K1", method="alipay",
                                   amount=p.amount, currency="CNY")
    from cloud_bridge.payments.providers.base import ChargeRequest

    await pay_service.providers["alipay"].charge(ChargeRequest(p.out_trade_no, p.amount,
                                                               auth_code=p.auth_code))
    early = await pay_service.settle("S1", "K1", SettleParams(
        out_trade_no=p.out_trade_no, method="alipay", amount=p.amount))
    assert early["status"] == "unknown"      # the charging worker might still be alive
    pay_service.policy.charge_stale_s = stale_s
    await asyncio.sleep(stale_s + 0.1)        # now it is stale: its worker is gone
    res = await pay_service.settle("S1", "K1", SettleParams(
        out_trade_no=p.out_trade_no, method="alipay", amount=p.amount))
    assert res["status"] == "paid"


async def test_concurrent_settles_reverse_once(pay_service, sandbox):
    sandbox.wechat.ledger.faults.add(FaultRule("userpaying", polls=99))
    p = params("wechat", wechat_code())
    await pay_service.charge("S1", "K1", p, budget_s=0.05)
    sp = SettleParams(out_trade_no=p.out_trade_no, method="wechat", amount=p.amount)
    results = await asyncio.gather(*(pay_service.settle("S1", "K1", sp) for _ in range(4)))
    assert {r["status"] for r in results} <= {"unknown", "reversed"}
    final = await pay_service.settle("S1", "K1", sp)
    assert final["status"] == "reversed"


async def test_business_failure_messages(pay_service, sandbox):
    code = wechat_code()
    sandbox.wechat.ledger.set_balance(code, 1)
    res = await pay_service.charge("S1", "K1", params("wechat", code))
    assert res["status"] == "failed" and res["reason"] == "insufficient_funds"
    assert res["message_zh"] == "余额不足，请更换付款方式"
    assert "Insufficient balance" in res["message_en"]


async def test_payment_code_never_logged_or_stored(pay_service, sandbox, pay_db, tmp_path,
                                                   caplog):
    caplog.set_level(logging.DEBUG)
    codes = [wechat_code() for _ in range(3)] + [alipay_code() for _ in range(3)]
    sandbox.wechat.ledger.faults.add(FaultRule("timeout"))
    sandbox.alipay.ledger.faults.add(FaultRule("userpaying", polls=1))
    for code in codes:
        method = "wechat" if code.startswith("13") else "alipay"
        await pay_service.charge("S1", "K1", params(method, code))
    if pay_db.is_sqlite:   # the database files themselves, WAL included
        await pay_db.close()
        blobs = b"".join(f.read_bytes() for f in tmp_path.glob("bridge.db*"))
    else:                  # every row of every table
        from sqlalchemy import select

        from cloud_bridge.models import Base

        blobs = b""
        async with pay_db.session() as s:
            for t in Base.metadata.sorted_tables:
                blobs += repr((await s.execute(select(t))).all()).encode()
    text = caplog.text
    assert blobs and text
    for code in codes:
        assert code.encode() not in blobs
        assert code not in text
        assert code not in repr(params("wechat", code))


async def test_notifications_apply_once(pay_service, sandbox, caplog):
    sandbox.wechat.ledger.faults.add(FaultRule("userpaying", polls=99))
    p = params("wechat", wechat_code())
    await pay_service.charge("S1", "K1", p, budget_s=0.01)
    assert (await pay_service.status(p.out_trade_no, "S1", "K1"))["status"] == "unknown"
    sandbox.wechat.ledger.trades[p.out_trade_no].pending_polls = 0
    trade = sandbox.wechat.ledger.query(p.out_trade_no)      # the payer confirmed
    headers, body = sandbox.wechat.notification(trade)
    tampered = body.replace('"TRANSACTION.SUCCESS"', '"TRANSACTION.FAILED"')
    caplog.set_level(logging.WARNING)
    assert not await pay_service.handle_notification("wechat", headers, tampered.encode())
    assert (await pay_service.status(p.out_trade_no, "S1", "K1"))["status"] == "unknown"
    assert "refused wechat notification" in caplog.text
    assert await pay_service.handle_notification("wechat", headers, body.encode())
    assert (await pay_service.status(p.out_trade_no, "S1", "K1"))["status"] == "paid"
    assert not await pay_service.handle_notification("wechat", headers, body.encode())
