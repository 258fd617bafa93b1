"""Alipay's trade bill in its real shape: a zip of two GBK CSV files (业务明细 and its
汇总) with ``#`` header and footer lines, tab-padded cells and the 服务费 fee column;
downloaded from the sandbox, parsed, reconciled, and its fees posted."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from cloud_bridge.finance import accounts as A
from cloud_bridge.finance import close as C
from cloud_bridge.finance.reports import trial_balance
from cloud_bridge.payments.providers.alipay import parse_bill_zip
from cloud_bridge.payments.sandbox.alipay_bill import bill_fee, bill_zip
from cloud_bridge.payments.sandbox.ledger import BillRow
from cloud_bridge.payments.store import business_date
from contract.wire.payments import ChargeParams
from tests.cloud_bridge.finance.helpers import ingest_sales, sale_data
from tests.cloud_bridge.payments_fixtures import alipay_code, trade_no

DAY = "2026-11-03"
AT = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)


def _files(raw: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(raw)) as z:
        return {i.filename: z.read(i).decode("gbk") for i in z.infolist()}


def test_the_archive_is_alipays_shape():
    rows = [BillRow(AT, "PAY", "s1-T1", "2024001", 2260, "CNY"),
            BillRow(AT + timedelta(minutes=5), "REFUND", "s1-T1", "2024001", 1000, "CNY", "R1")]
    files = _files(bill_zip(rows, DAY))
    detail = files["2088000000000156_20261103_业务明细.csv"]
    assert "2088000000000156_20261103_业务明细(汇总).csv" in files
    lines = detail.split("\r\n")
    assert lines[0] == "#支付宝业务明细查询" and lines[4].startswith("支付宝交易号,商户订单号,业务类型")
    assert lines[5].split(",")[2] == "交易\t" and lines[6].split(",")[2] == "退款\t"
    assert lines[-3].startswith("#退款合计：1笔") and lines[-2].startswith("#导出时间：")
    got = parse_bill_zip(bill_zip(rows, DAY))
    assert [(ln.kind, ln.amount, ln.fee, ln.out_refund_no) for ln in got] == [
        ("pay", 2260, 14, ""), ("refund", 1000, -6, "R1")]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["PAY", "REFUND", "REVOKE"]),
                          st.integers(min_value=1, max_value=10**9)), max_size=30))
def test_what_the_sandbox_writes_the_parser_reads_back(items):
    rows = [BillRow(AT, kind, f"s1-T{i}", f"2024{i:06d}", amount, "CNY",
                    f"R{i}" if kind == "REFUND" else "")
            for i, (kind, amount) in enumerate(items)]
    got = parse_bill_zip(bill_zip(rows, DAY))
    assert [(ln.out_trade_no, ln.amount) for ln in got] == [(r.out_trade_no, r.amount)
                                                             for r in rows]
    assert [ln.fee for ln in got] == [bill_fee(r.amount) * (1 if r.kind == "PAY" else -1)
                                      for r in rows]


async def test_close_reads_alipays_bill_and_posts_its_fees(pay_service):
    db = pay_service.db
    now = datetime.now(UTC)
    day = business_date(now)
    no = trade_no("s1-")
    p = ChargeParams(order_no="s1-k1-7", out_trade_no=no, method="alipay", amount=2260,
                     auth_code=alipay_code())
    assert (await pay_service.charge("s1", "k1", p))["status"] == "paid"
    await ingest_sales(db, "s1", [sale_data("s1-k1-7", [("milk", 2, 1130, 1300)],
                                            [("alipay", 2260, no)], now)])
    bills = await C.fetch_bills(pay_service, day)
    assert [(ln.kind, ln.amount, ln.fee) for ln in bills["alipay"]
            if ln.out_trade_no == no] == [("pay", 2260, 14)]
    close_id = await C.reconcile(db, "s1", day, bills)
    async with db.session() as s:
        _, items = await C.get_close(s, close_id)
        assert [m for m in items if m.method == "alipay"] == []
        tb = await trial_balance(s, store="s1")
        assert tb[A.PROVIDER_FEES] == 14 and tb[A.clearing("alipay")] == 2260 - 14
