"""VAT (增值税): rates by validity dates, and the period VAT return worksheet.

Rates are dated rows: a rate applies to sales on the days it is valid (the 2018 and
2019 cuts moved 17/11 % to 16/10 % and then to 13/9 %; small-scale taxpayers pay 3 %,
1 % under the relief that runs to the end of 2027). Tax of a tax-inclusive price is
per line: net = round half up of price / (1 + rate) to the fen, tax = price - net;
invoice and return totals are sums of lines.

The worksheet (:func:`vat_return`) lists sales by rate (net and output tax, refunds
taken off in each order's proportions), the output tax, the input tax the ledger holds
from supplier invoices (goods receipts), and the tax payable (or the credit carried
forward); its output tax is the ledger's, to the fen.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge.models import Order, OrderLine, RefundRequest

from . import accounts as A
from .costing import round_half_up
from .posting import ProductInfo, allocate
from .reports import Period, Statement, balances
from .service import DEFAULT_TZ, local_date


@dataclass(frozen=True, slots=True)
class VatRate:
    """One dated rate row: ``rate_bp`` for ``taxpayer`` from ``valid_from`` to ``valid_to``."""

    code: str
    taxpayer: str  # general | small_scale
    rate_bp: int
    valid_from: str
    valid_to: str | None  # inclusive; None: until changed
    label_zh: str


VAT_RATES: tuple[VatRate, ...] = (
    VatRate("goods", "general", 1700, "1994-01-01", "2018-04-30", "货物 17%"),
    VatRate("reduced", "general", 1100, "2017-07-01", "2018-04-30", "低税率 11%"),
    VatRate("goods", "general", 1600, "2018-05-01", "2019-03-31", "货物 16%"),
    VatRate("reduced", "general", 1000, "2018-05-01", "2019-03-31", "低税率 10%"),
    VatRate("goods", "general", 1300, "2019-04-01", None, "货物 13%"),
    VatRate("reduced", "general", 900, "2019-04-01", None, "农产品、食用油等 9%"),
    VatRate("services", "general", 600, "2009-01-01", None, "现代服务 6%"),
    VatRate("zero", "general", 0, "1994-01-01", None, "免税/零税率 0%"),
    VatRate("small", "small_scale", 300, "2009-01-01", None, "小规模纳税人 3%"),
    VatRate("small_relief", "small_scale", 100, "2023-01-01", "2027-12-31",
            "小规模纳税人减按 1%"),
)


def rates_on(day: str, taxpayer: str = "general") -> dict[int, VatRate]:
    """The rates valid on ``day`` for ``taxpayer``, by basis points."""
    d = date.fromisoformat(day)
    return {r.rate_bp: r for r in VAT_RATES
            if r.taxpayer == taxpayer and date.fromisoformat(r.valid_from) <= d
            and (r.valid_to is None or d <= date.fromisoformat(r.valid_to))}


def line_tax(price: int, rate_bp: int) -> tuple[int, int]:
    """``(net, tax)`` of a tax-inclusive price at ``rate_bp``."""
    net = round_half_up(price * 10000, 10000 + rate_bp)
    return net, price - net


async def order_vat(session: AsyncSession, order: Order, lines: list[OrderLine],
                    products: ProductInfo) -> dict[int, tuple[int, int]]:
    """``{rate_bp: (gross, tax)}`` of a sale, the way it was posted (see posting)."""
    vat = [v for v in (order.details or {}).get("vat", []) if isinstance(v, dict)]
    if vat and sum(int(v.get("gross", 0)) for v in vat) == order.total:
        out: dict[int, tuple[int, int]] = {}
        for v in vat:
            g, t = out.get(int(v.get("rate_bp", 0)), (0, 0))
            out[int(v.get("rate_bp", 0))] = (g + int(v.get("gross", 0)), t + int(v.get("tax", 0)))
        return out
    gross: dict[int, int] = defaultdict(int)
    tax: dict[int, int] = defaultdict(int)
    for ln in lines:
        _, rate = await products.get(session, order.store, ln.product_id)
        gross[rate] += ln.amount
        tax[rate] += line_tax(ln.amount, rate)[1]
    if sum(gross.values()) != order.total and gross:
        gross = defaultdict(int, allocate(order.total, dict(gross)))
    return {r: (gross[r], tax[r]) for r in gross}


async def vat_return(session: AsyncSession, *, store: str | None, period: Period,
                     tz: str = DEFAULT_TZ) -> Statement:
    """增值税申报表 worksheet for ``period`` (one store or the chain)."""
    products = ProductInfo()
    gross: dict[int, int] = defaultdict(int)
    tax: dict[int, int] = defaultdict(int)
    invalid: set[int] = set()
    q = select(Order).where(Order.paid_at.is_not(None), Order.total > 0,
                            Order.business_date >= period.start,
                            Order.business_date <= period.end)
    if store is not None:
        q = q.where(Order.store == store)
    cache: dict[int, dict[int, tuple[int, int]]] = {}

    async def split(o: Order) -> dict[int, tuple[int, int]]:
        if o.id not in cache:
            lines = list(await session.scalars(select(OrderLine).where(
                OrderLine.order_id == o.id)))
            cache[o.id] = await order_vat(session, o, lines, products)
        return cache[o.id]

    for o in await session.scalars(q):
        valid = rates_on(o.business_date)
        for rate, (g, t) in (await split(o)).items():
            gross[rate] += g
            tax[rate] += t
            if rate not in valid:
                invalid.add(rate)
    rq = (select(RefundRequest, Order).join(Order, Order.id == RefundRequest.order_id)
          .where(RefundRequest.status == "succeeded", Order.total > 0))
    if store is not None:
        rq = rq.where(Order.store == store)
    for r, o in (await session.execute(rq)).all():
        if not period.start <= local_date(r.updated_at, tz) <= period.end:
            continue
        by_rate = await split(o)
        order_tax = sum(t for _, t in by_rate.values())
        refund_tax = round_half_up(r.amount * order_tax, o.total)
        back_gross = allocate(r.amount, {str(k): g for k, (g, _) in by_rate.items()})
        back_tax = allocate(refund_tax, {str(k): t for k, (_, t) in by_rate.items()})
        for k in back_gross:
            gross[int(k)] -= back_gross[k]
            tax[int(k)] -= back_tax.get(k, 0)
    bal = await balances(session, store=store, start=period.start, end=period.end)
    st = Statement("vat", "增值税申报表(工作底稿)", "VAT return worksheet", store, period)
    st.add("销售额与销项税额(按税率)", "Sales and output tax by rate", None)
    for rate in sorted(gross, reverse=True):
        pct = f"{rate / 100:g}%"
        st.add(f"销售额(不含税) {pct}", f"Sales excl. VAT at {pct}", gross[rate] - tax[rate],
               f"rate {rate}")
        st.add(f"销项税额 {pct}", f"Output tax at {pct}", tax[rate], f"rate {rate}")
    output = sum(tax.values())
    input_tax = bal.get(A.INPUT_VAT, 0)
    st.add("销项税额合计", "Total output tax", output, A.OUTPUT_VAT, total=True)
    # Issued e-invoices moved their tax to the invoiced account (red-letter ones back).
    invoiced = -bal.get(A.OUTPUT_VAT_INVOICED, 0)
    st.add("其中: 开具发票", "of which invoiced", invoiced, A.OUTPUT_VAT_INVOICED)
    st.add("其中: 未开具发票", "of which not invoiced", output - invoiced, A.OUTPUT_VAT)
    st.add("进项税额(供应商发票)", "Input tax (supplier invoices)", input_tax, A.INPUT_VAT)
    payable = output - input_tax
    st.add("应纳税额", "Tax payable", max(payable, 0), total=True)
    st.add("期末留抵税额", "Input tax credit carried forward", max(-payable, 0), total=True)
    st.figures = {"sales_net": sum(gross.values()) - output, "output_tax": output,
                  "ledger_output_tax": -bal.get(A.OUTPUT_VAT, 0) + invoiced,
                  "invoiced_output_tax": invoiced, "input_tax": input_tax,
                  "payable": max(payable, 0), "carried_forward": max(-payable, 0),
                  "rates_not_valid": len(invalid)}
    if invalid:
        rates = ", ".join(f"{r / 100:g}%" for r in sorted(invalid))
        st.add(f"税率与日期不符, 请核对: {rates}", f"Rates not valid on their day: {rates}",
               None)
    return st
