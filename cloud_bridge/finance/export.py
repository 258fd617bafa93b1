"""Statements as files: CSV (UTF-8 with BOM, for Excel), XLSX (openpyxl), PDF (reportlab).

Amounts are printed in yuan from integer fen without floats (``contract.money``);
the XLSX also carries the exact fen in a column of its own so a spreadsheet sums
integers. The PDF embeds WenQuanYi Micro Hei (Debian's ``fonts-wqy-microhei``) so
the Chinese labels render on any viewer.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from contract.money import major_text

from .reports import Statement

FORMATS = ("csv", "xlsx", "pdf")
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}
# Debian's fonts-wqy-microhei (in the Makefile's APT_PACKAGES); subfont 0 is Micro Hei.
CJK_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
CJK_FONT_NAME = "WenQuanYiMicroHei"


class ExportError(Exception):
    """A format that cannot be produced here (unknown, or its library/font is missing)."""


def _title(st: Statement) -> str:
    return f"{st.title_zh} {st.title_en} — {st.scope} — {st.period.label}"


def _amount(value: int | None) -> str:
    return "" if value is None else major_text(value)


def to_csv(st: Statement) -> bytes:
    """UTF-8 with a byte-order mark so that Excel on Chinese Windows reads it right."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow([_title(st)])
    w.writerow(["科目 Account", "项目", "Item", "金额(元) Amount (CNY)", "fen"])
    for r in st.rows:
        w.writerow([r.code or "", r.label_zh, r.label_en, _amount(r.amount),
                    "" if r.amount is None else r.amount])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(st: Statement) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = st.kind
    ws.append([_title(st)])
    ws["A1"].font = Font(bold=True, size=13)
    ws.append(["科目 Account", "项目", "Item", "金额(元) Amount (CNY)", "fen"])
    for cell in ws[2]:
        cell.font = Font(bold=True)
    for r in st.rows:
        ws.append([r.code or "", r.label_zh, r.label_en, _amount(r.amount), r.amount])
        if r.total or r.amount is None:
            for cell in ws[ws.max_row]:
                cell.font = Font(bold=True)
    for col, width in zip("ABCDE", (14, 34, 40, 18, 14), strict=True):
        ws.column_dimensions[col].width = width
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _register_font() -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if CJK_FONT_NAME in pdfmetrics.getRegisteredFontNames():
        return CJK_FONT_NAME
    if not CJK_FONT.is_file():
        raise ExportError(f"PDF needs the Chinese font {CJK_FONT} (apt install "
                          "fonts-wqy-microhei)")
    pdfmetrics.registerFont(TTFont(CJK_FONT_NAME, str(CJK_FONT), subfontIndex=0))
    return CJK_FONT_NAME


def to_pdf(st: Statement) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    font = _register_font()
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, title=_title(st), author="cloud-bridge finance")
    heading = ParagraphStyle("h", fontName=font, fontSize=15, leading=20)
    small = ParagraphStyle("s", fontName=font, fontSize=9, leading=12)
    data = [["科目", "项目 Item", "金额(元)"]]
    bold_rows = []
    for i, r in enumerate(st.rows, 1):
        data.append([r.code or "", f"{r.label_zh}  {r.label_en}", _amount(r.amount)])
        if r.total or r.amount is None:
            bold_rows.append(i)
    table = Table(data, colWidths=[60, 330, 90], repeatRows=1)
    style = [
        ("FONTNAME", (0, 0), (-1, -1), font), ("FONTSIZE", (0, 0), (-1, -1), 9),
        ("ALIGN", (2, 0), (2, -1), "RIGHT"), ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef7")),
    ]
    style += [("BACKGROUND", (0, i), (-1, i), colors.HexColor("#f3f3f3")) for i in bold_rows]
    table.setStyle(TableStyle(style))
    story = [Paragraph(f"{st.title_zh}  {st.title_en}", heading),
             Paragraph(f"门店 Store: {st.scope}　期间 Period: {st.period.label}　单位: 元 (CNY)",
                       small),
             Spacer(1, 10), table]
    doc.build(story)
    return buf.getvalue()


def render(st: Statement, fmt: str) -> bytes:
    """``st`` as ``fmt`` (one of :data:`FORMATS`)."""
    if fmt == "csv":
        return to_csv(st)
    if fmt == "xlsx":
        return to_xlsx(st)
    if fmt == "pdf":
        return to_pdf(st)
    raise ExportError(f"format must be one of {', '.join(FORMATS)}")
