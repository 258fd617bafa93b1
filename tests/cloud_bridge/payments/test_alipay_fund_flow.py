"""Alipay's fund-flow bill (账务明细, bill_type=signcustomer) in its real shape: a zip of
GBK CSV files with ``#`` header and footer lines; income for payments, expenses for
refunds and 服务费 fees. Downloaded from the sandbox, parsed, and checked three ways
(orders, trade bill, fund-flow bill) by the daily close."""

from __future__ import annotations

import io
import zipfile
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloud_bridge.finance import close as C
from cloud_bridge.payments.providers.alipay import parse_fund_zip
from cloud_bridge.payments.sandbox.alipay_bill import bill_fee
from cloud_bridge.payments.sandbox.alipay_fund import fund_zip
from cloud_bridge.payments.sandbox.ledger import BillRow
from cloud_bridge.payments.store import business_date
from contract.wire.payments import ChargeParams
from tests.cloud_bridge.finance.helpers import ingest_sales, sale_data
from tests.cloud_bridge.payments_fixtures import alipay_code, trade_no

pytestmark = pytest.mark.timeout(90)

DAY = "2026-11-03"
AT = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)


def test_the_archive_is_alipays_shape():
    rows = [BillRow(AT, "PAY", "s1-T1", "2024001", 2260, "CNY"),
            BillRow(AT + timedelta(minutes=5), "REFUND", "s1-T1", "2024001", 1000, "CNY", "R1")]
    with zipfile.ZipFile(io.BytesIO(fund_zip(rows, DAY))) as z:
        files = {i.filename: z.read(i).decode("gbk") for i in z.infolist()}
    assert "2088000000000156_20261103_账务明细(汇总).csv" in files
    lines = files["2088000000000156_20261103_账务明细.csv"].split("\r\n")
    assert lines[0] == "#支付宝账务明细查询" and lines[4].startswith("账务流水号,业务流水号,商户订单号")
    cells = [ln.split(",") for ln in lines[5:9]]
    assert [(c[10], c[6], c[7], c[8]) for c in cells] == [
        ("在线支付\t", "22.60\t", "\t", "22.60\t"), ("收费\t", "\t", "-0.14\t", "22.46\t"),
        ("交易退款\t", "\t", "-10.00\t", "12.46\t"), ("收费\t", "0.06\t", "\t", "12.52\t")]
    assert lines[-4] == "#支出合计：2笔，共-10.14元" and lines[-3] == "#收入合计：2笔，共22.66元"
    got = parse_fund_zip(fund_zip(rows, DAY))
    assert [(f.kind, f.out_trade_no, f.amount, f.balance) for f in got] == [
        ("trade", "s1-T1", 2260, 2260), ("fee", "s1-T1", -14, 2246),
        ("refund", "s1-T1", -1000, 1246), ("fee", "s1-T1", 6, 1252)]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["PAY", "REFUND", "REVOKE"]),
                          st.integers(min_value=1, max_value=10**9)), max_size=30))
def test_what_the_sandbox_writes_the_parser_reads_back(items):
    rows = [BillRow(AT, kind, f"s1-T{i}", f"2024{i:06d}", amount, "CNY",
                    f"R{i}" if kind == "REFUND" else "")
            for i, (kind, amount) in enumerate(items)]
    got = parse_fund_zip(fund_zip(rows, DAY))
    for r in rows:
        mine = [f for f in got if f.out_trade_no == r.out_trade_no]
        sign = 1 if r.kind == "PAY" else -1
        assert sum(f.amount for f in mine if f.kind != "fee") == sign * r.amount
        assert sum(f.amount for f in mine if f.kind == "fee") == -sign * bill_fee(r.amount)
    assert [f.balance for f in got] == [sum(f.amount for f in got[:i + 1])
                                        for i in range(len(got))]


async def test_the_sandbox_refuses_an_unknown_bill_type(providers):
    data = await providers["alipay"].call("alipay.data.dataservice.bill.downloadurl.query",
                                          {"bill_type": "everything", "bill_date": DAY})
    assert data["sub_code"] == "ACQ.INVALID_PARAMETER" and "bill_download_url" not in data


async def _alipay_sale(svc, db, store: str, amount: int, now: datetime) -> str:
    no = trade_no(f"{store}-")
    p = ChargeParams(order_no=f"{store}-k1-{no[-6:]}", out_trade_no=no, method="alipay",
                     amount=amount, auth_code=alipay_code())
    assert (await svc.charge(store, "k1", p))["status"] == "paid"
    await ingest_sales(db, store, [sale_data(p.order_no, [("milk", 1, amount, 1300)],
                                             [("alipay", amount, no)], now)])
    return no


async def test_close_checks_alipays_fund_flow_three_ways(pay_service):
    db = pay_service.db
    now = datetime.now(UTC)
    day = business_date(now)
    lost, costly = [await _alipay_sale(pay_service, db, "s1", a, now) for a in (1000, 2260)]
    clean = await _alipay_sale(pay_service, db, "s2", 2260, now)
    bills = await C.fetch_bills(pay_service, day)
    funds = await C.fetch_fund_flows(pay_service, day)
    assert sum(f.amount for f in funds["alipay"] if f.out_trade_no == clean) == 2260 - 14
    # s1: the payment of `lost` never reached the balance; `costly`'s fee differs.
    s1_funds = {"alipay": [f if f.out_trade_no != costly or f.kind != "fee"
                           else replace(f, amount=-20)
                           for f in funds["alipay"]
                           if not (f.out_trade_no == lost and f.kind == "trade")]}
    close_id = await C.reconcile(db, "s1", day, bills, funds=s1_funds)
    async with db.session() as s:
        _, items = await C.get_close(s, close_id)
    assert {(m.out_trade_no, m.kind): (m.orders_amount, m.bill_amount)
            for m in items if m.method == "alipay"} == {
        (lost, "funds_differ"): (1000, 0), (costly, "fee_differs"): (14, 20)}
    # s2: orders, trade bill and fund-flow bill agree; the day closes.
    close_id = await C.reconcile(db, "s2", day, bills, funds=funds)
    async with db.session() as s:
        _, items = await C.get_close(s, close_id)
        assert [m for m in items if m.method == "alipay"] == []
        assert (await C.close_day(s, close_id, "admin:fin")).status == "closed"
