"""Alipay's daily trade bill (业务明细) as the bill download URL serves it.

A zip archive holding two GBK-encoded CSV files named after the merchant's PID and
the day: ``{pid}_{yyyymmdd}_业务明细.csv`` (a ``#`` header block, the column row,
one row per trade or refund, a ``#`` footer with the totals and the export time) and
``{pid}_{yyyymmdd}_业务明细(汇总).csv`` (totals per store). Cells carry a trailing tab,
as Alipay writes them so that spreadsheets keep long numbers as text. The service fee
column (服务费（元）) is negative for a fee taken and positive for one given back with
a refund.
"""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime

from contract.money import major_text

from .ledger import CHINA_TZ, BillRow

# The sandbox merchant's Alipay fee rate (费率), basis points: 0.60 %, Alipay's
# standard rate for ordinary retail merchants.
FEE_RATE_BP = 60
PID = "2088000000000156"
COLUMNS = ("支付宝交易号", "商户订单号", "业务类型", "商品名称", "创建时间", "完成时间",
           "门店编号", "门店名称", "操作员", "终端号", "对方账户", "订单金额（元）",
           "商家实收（元）", "支付宝红包（元）", "集分宝（元）", "支付宝优惠（元）",
           "商家优惠（元）", "券核销金额（元）", "券名称", "商家红包消费金额（元）",
           "卡消费金额（元）", "退款批次号/请求号", "服务费（元）", "分润（元）", "备注")


def bill_fee(amount: int) -> int:
    """The fee on ``amount`` fen at :data:`FEE_RATE_BP`, rounded half up to the fen."""
    return (amount * FEE_RATE_BP * 2 + 10000) // 20000


def _cell(value: str) -> str:
    return f"{value}\t"


def detail_csv(rows: list[BillRow], day: str, now: datetime | None = None) -> str:
    """The 业务明细 file of ``day`` (YYYY-MM-DD) for ``rows``."""
    d = day.replace("-", "")
    start = datetime.strptime(d, "%Y%m%d")
    out = ["#支付宝业务明细查询", f"#账号：[{PID}]",
           f"#起始日期：[{start:%Y年%m月%d日} 00:00:00]   终止日期：[{start:%Y年%m月%d日} 23:59:59]",
           "#-----------------------------------------业务明细列表"
           "----------------------------------------",
           ",".join(COLUMNS)]
    pays = refunds = 0
    paid = refunded = 0
    for row in rows:
        at = row.at.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M:%S")
        if row.kind == "PAY":
            kind, amount, fee = "交易", row.amount, -bill_fee(row.amount)
            pays, paid = pays + 1, paid + row.amount
        else:  # a refund or a cancelled (撤销) payment: money and its fee go back
            kind, amount, fee = "退款", -row.amount, bill_fee(row.amount)
            refunds, refunded = refunds + 1, refunded + row.amount
        cells = [row.transaction_id, row.out_trade_no, kind, "自助收银", at, at, "", "",
                 "", "", "sha***@sandbox.com", major_text(amount), major_text(amount),
                 "0.00", "0.00", "0.00", "0.00", "0.00", "", "0.00", "0.00",
                 row.out_refund_no, major_text(fee), "0.00", ""]
        out.append(",".join(_cell(c) for c in cells))
    exported = (now or datetime.now(UTC)).astimezone(CHINA_TZ)
    out += ["#-----------------------------------------业务明细列表结束"
            "------------------------------------",
            f"#交易合计：{pays}笔，商家实收：￥{major_text(paid)}元，商家优惠：￥0.00元",
            f"#退款合计：{refunds}笔，商家实收：￥{major_text(-refunded)}元，商家优惠：￥0.00元",
            f"#导出时间：[{exported:%Y年%m月%d日 %H:%M:%S}]"]
    return "\r\n".join(out) + "\r\n"


def summary_csv(rows: list[BillRow], day: str) -> str:
    """The 业务明细(汇总) file: one totals row for the (single) sandbox store."""
    pays = [r for r in rows if r.kind == "PAY"]
    backs = [r for r in rows if r.kind != "PAY"]
    net = sum(r.amount for r in pays) - sum(r.amount for r in backs)
    fees = sum(bill_fee(r.amount) for r in pays) - sum(bill_fee(r.amount) for r in backs)
    out = ["#支付宝业务汇总查询", f"#账号：[{PID}]",
           "门店编号,门店名称,交易订单总笔数,退款订单总笔数,订单金额（元）,商家实收（元）,"
           "服务费（元）,实收净额（元）",
           ",".join(_cell(c) for c in ("", "合计", str(len(pays)), str(len(backs)),
                                       major_text(net), major_text(net), major_text(-fees),
                                       major_text(net - fees))),
           f"#导出时间：[{datetime.now(UTC).astimezone(CHINA_TZ):%Y年%m月%d日 %H:%M:%S}]"]
    return "\r\n".join(out) + "\r\n"


def gbk_zip(day: str, name: str, detail: str, summary: str) -> bytes:
    """A downloadable bill archive as Alipay makes it: the detail file and its (汇总)
    summary, GBK-encoded, named ``{pid}_{yyyymmdd}_{name}.csv``."""
    d = day.replace("-", "")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"{PID}_{d}_{name}.csv", detail.encode("gbk"))
        z.writestr(f"{PID}_{d}_{name}(汇总).csv", summary.encode("gbk"))
    return buf.getvalue()


def bill_zip(rows: list[BillRow], day: str) -> bytes:
    """The trade bill's archive (业务明细)."""
    return gbk_zip(day, "业务明细", detail_csv(rows, day), summary_csv(rows, day))
