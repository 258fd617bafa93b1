"""Alipay's daily fund-flow bill (账务明细, ``bill_type=signcustomer``) as the bill
download URL serves it.

A zip archive of GBK-encoded CSV files named after the merchant's PID and the day:
``{pid}_{yyyymmdd}_账务明细.csv`` (a ``#`` header block, the column row, one row per
movement of the account's balance, a ``#`` footer with the income and expense totals
and the export time) and ``{pid}_{yyyymmdd}_账务明细(汇总).csv``. A payment comes in
(在线支付) and its service fee goes out (收费, 备注 服务费); a refund or a cancelled
payment goes out (交易退款) and its share of the fee comes back (收费, 服务费退回).
The merchant order number (商户订单号) is on every row, fee rows included. Cells carry
a trailing tab, as in the trade bill.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from contract.money import major_text

from .alipay_bill import PID, bill_fee, gbk_zip
from .ledger import CHINA_TZ, BillRow

COLUMNS = ("账务流水号", "业务流水号", "商户订单号", "商品名称", "发生时间", "对方账号",
           "收入金额（+元）", "支出金额（-元）", "账户余额（元）", "业务渠道", "业务类型", "备注")


def _moves(row: BillRow) -> list[tuple[str, int, str]]:
    """(业务类型, signed fen, 备注) of one trade bill row."""
    fee = bill_fee(row.amount)
    if row.kind == "PAY":
        return [("在线支付", row.amount, ""), ("收费", -fee, f"服务费[{row.transaction_id}]")]
    return [("交易退款", -row.amount, row.out_refund_no),
            ("收费", fee, f"服务费退回[{row.transaction_id}]")]


def fund_csv(rows: list[BillRow], day: str, now: datetime | None = None) -> str:
    """The 账务明细 file of ``day`` (YYYY-MM-DD) for the trade bill's ``rows``."""
    start = datetime.strptime(day, "%Y-%m-%d")
    out = ["#支付宝账务明细查询", f"#账号：[{PID}]",
           f"#起始日期：[{start:%Y年%m月%d日} 00:00:00]   终止日期：[{start:%Y年%m月%d日} 23:59:59]",
           "#-----------------------------------------账务明细列表"
           "----------------------------------------",
           ",".join(COLUMNS)]
    balance = income = spent = n_in = n_out = 0
    for row in rows:
        at = row.at.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M:%S")
        for kind, amount, note in _moves(row):
            if amount == 0:
                continue
            balance += amount
            if amount > 0:
                income, n_in = income + amount, n_in + 1
            else:
                spent, n_out = spent - amount, n_out + 1
            # Stable numbers: the same day downloads the same file.
            seed = f"{row.transaction_id}{row.out_refund_no}{kind}{amount > 0}".encode()
            flow_no = str(int(hashlib.sha1(seed).hexdigest()[:15], 16)).zfill(20)[:20]
            cells = [flow_no, row.transaction_id, row.out_trade_no, "自助收银", at,
                     "sha***@sandbox.com" if kind != "收费" else "支付宝（中国）网络技术有限公司",
                     major_text(amount) if amount > 0 else "",
                     major_text(amount) if amount < 0 else "",
                     major_text(balance), "支付宝", kind, note]
            out.append(",".join(f"{c}\t" for c in cells))
    exported = (now or datetime.now(UTC)).astimezone(CHINA_TZ)
    out += ["#-----------------------------------------账务明细列表结束"
            "------------------------------------",
            f"#支出合计：{n_out}笔，共{major_text(-spent)}元",
            f"#收入合计：{n_in}笔，共{major_text(income)}元",
            f"#导出时间：[{exported:%Y年%m月%d日 %H:%M:%S}]"]
    return "\r\n".join(out) + "\r\n"


def fund_summary_csv(rows: list[BillRow], day: str) -> str:
    """The 账务明细(汇总) file: income, expense and fees of the day by 业务类型."""
    totals: dict[str, list[int]] = {}
    for row in rows:
        for kind, amount, _ in _moves(row):
            t = totals.setdefault(kind, [0, 0])
            t[0 if amount > 0 else 1] += amount
    out = ["#支付宝账务汇总查询", f"#账号：[{PID}]", "业务类型,收入金额（+元）,支出金额（-元）"]
    out += [",".join(f"{c}\t" for c in (k, major_text(v[0]), major_text(v[1])))
            for k, v in totals.items()]
    out.append(f"#导出时间：[{datetime.now(UTC).astimezone(CHINA_TZ):%Y年%m月%d日 %H:%M:%S}]")
    return "\r\n".join(out) + "\r\n"


def fund_zip(rows: list[BillRow], day: str) -> bytes:
    """The fund-flow bill's archive (账务明细)."""
    return gbk_zip(day, "账务明细", fund_csv(rows, day), fund_summary_csv(rows, day))
