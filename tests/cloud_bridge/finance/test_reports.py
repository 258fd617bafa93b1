"""Statements per store and chain, exported as CSV, XLSX and PDF (Chinese text rendered)."""

from __future__ import annotations

import asyncio
import csv
import io
import shutil
import subprocess
from datetime import UTC, datetime

import pytest
from openpyxl import load_workbook
from PIL import Image

from cloud_bridge.finance import accounts as A
from cloud_bridge.finance.export import render
from cloud_bridge.finance.jobs import post_pending
from cloud_bridge.finance.reports import PeriodError, parse_period
from cloud_bridge.finance.service import post_provider_fee, post_provider_settlement
from cloud_bridge.finance.statements import statement

from .helpers import ingest_sales, refund, sale_data

NOV = datetime(2026, 11, 3, 4, 0, tzinfo=UTC)


async def _month(db) -> None:
    await ingest_sales(db, "s1", [
        sale_data("S1-1", [("milk", 2, 565, 1300)], [("wechat", 1130)], NOV),
        sale_data("S1-2", [("bread", 1, 2260, 1300)], [("alipay", 2260)], NOV),
    ])
    await ingest_sales(db, "s2", [sale_data("S2-1", [("tea", 1, 1090, 900)], [("cash", 1090)],
                                            NOV)], kiosk="k9")
    await post_pending(db)
    await refund(db, "S1-2", 1130)
    await post_pending(db)
    async with db.session() as s:
        await post_provider_fee(s, store="s1", provider="wechat", source_id="fee-1103",
                                occurred_at=NOV, fee_fen=7)
        await post_provider_settlement(s, store="s1", provider="wechat", source_id="st-1103",
                                       occurred_at=NOV, amount_fen=1123)


def test_periods():
    assert parse_period("2026-02").end == "2026-02-28"
    assert parse_period("2026-11-03").label == "2026-11-03"
    assert parse_period("2026-11-01..2026-11-15").day_before() == "2026-10-31"
    for bad in ("2026-13", "11/2026", "2026-11-20..2026-11-01", ""):
        with pytest.raises(PeriodError):
            parse_period(bad)


async def test_statements_per_store_and_chain(db):
    await _month(db)
    # The refund is posted on the day it is made (today): a period from November on.
    period = parse_period("2026-11-01..2099-12-31")
    async with db.session() as s:
        income = await statement(s, "income", store="s1", period=period)
        chain = await statement(s, "income", store=None, period=period)
        sheet = await statement(s, "balance", store=None, period=period)
        flow = await statement(s, "cashflow", store="s1", period=period)
        october = await statement(s, "income", store="s1", period=parse_period("2026-10"))
    # s1: 1000 + 2000 net of 13 % VAT, less the 1000 net refunded, less a 7 fen fee.
    assert income.figures["revenue"] == 2000 and income.figures["net_profit"] == 1993
    assert chain.figures["revenue"] == 2000 + 1000
    assert october.figures["net_profit"] == 0
    f = sheet.figures
    assert f["assets"] == f["liabilities"] + f["equity"] == 1130 + 1130 + 1090 - 7
    # s1's cash: 1130 + 2260 in, 1130 refunded, 7 fee; the settlement stays inside cash.
    assert flow.figures == {"opening": 0, "closing": 2253, "net_change": 2253}
    settled = [r for r in flow.rows if r.code == "settlement"]
    assert settled == []  # clearing -> bank nets to zero within cash
    assert [r.amount for r in flow.rows if r.code == "refund"] == [-1130]


async def test_exports_csv_xlsx_and_a_pdf_whose_chinese_renders(db, tmp_path):
    await _month(db)
    async with db.session() as s:
        income = await statement(s, "income", store="s1",
                                 period=parse_period("2026-11-01..2099-12-31"))
    rows = list(csv.reader(io.StringIO(render(income, "csv").decode("utf-8-sig"))))
    assert rows[0][0].startswith("利润表 Income statement")
    assert ["", "净利润", "Net profit", "19.93", "1993"] in rows
    assert [A.revenue("general"), "主营业务收入-general", "Revenue: general", "20.00",
            "2000"] in rows
    book = load_workbook(io.BytesIO(render(income, "xlsx")))
    sheet = book.active
    found = {sheet.cell(r, 2).value: sheet.cell(r, 5).value for r in range(3, sheet.max_row + 1)}
    assert found["净利润"] == 1993 and found["毛利"] == 2000
    await asyncio.to_thread(_check_pdf, render(income, "pdf"), tmp_path)


def _check_pdf(pdf: bytes, tmp_path) -> None:
    """Render page 1 with poppler: ink on the page, and the Chinese read back as text."""
    assert pdf.startswith(b"%PDF")
    path = tmp_path / "income.pdf"
    path.write_bytes(pdf)
    if not shutil.which("pdftoppm"):
        pytest.fail("pdftoppm missing: apt install poppler-utils (Makefile APT_PACKAGES)")
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(path),
                    str(tmp_path / "page")], check=True, timeout=60)
    image = Image.open(next(tmp_path.glob("page*.png"))).convert("L")
    dark = sum(image.histogram()[:128])
    assert dark > 2000, "the rendered page is (nearly) blank"
    # The glyphs are real text with their Unicode, not boxes: poppler reads them back.
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True,
                          timeout=60).stdout.decode()
    assert "利润表" in text and "净利润" in text and "19.93" in text
