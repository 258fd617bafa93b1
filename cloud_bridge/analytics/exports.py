"""A metric table as JSON rows, CSV, XLSX or an SVG bar chart (one table, four views)."""

from __future__ import annotations

import io
import math
from datetime import date, datetime
from xml.sax.saxutils import escape

import polars as pl

from common.jsontypes import JsonObject

# The column a chart draws for each metric (the table's main figure).
CHART_VALUE = {"average_order_value": "aov", "payment_mix": "amount",
               "repurchase_rate": "rate", "retention_cohorts": "rate",
               "conversion_funnel": "conversion"}
CHART_BARS = 30
MONEY = frozenset({"revenue", "prev_revenue", "amount", "aov", "prev_aov", "discount",
                   "baseline", "incremental", "list_price", "market_price", "ltv"})


def _cell(v: object) -> object:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, datetime | date):
        return v.isoformat()
    return v


def rows(frame: pl.DataFrame) -> list[JsonObject]:
    """JSON-ready rows: dates as ISO text, NaN/inf as null."""
    return [{k: _cell(v) for k, v in r.items()} for r in frame.to_dicts()]


def table(frame: pl.DataFrame) -> JsonObject:
    return {"columns": frame.columns, "rows": rows(frame)}


def to_csv(frame: pl.DataFrame) -> bytes:
    """UTF-8 CSV with a BOM, so that Excel in a Chinese locale opens it right."""
    out = io.StringIO()
    frame = frame.with_columns(pl.col(c).cast(pl.Utf8) for c, t in frame.schema.items()
                               if t in (pl.Date, pl.Datetime))
    frame.write_csv(out)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(frame: pl.DataFrame, title: str) -> bytes:
    """One sheet named after the metric: a header row, then the rows."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title[:31])
    ws.append(frame.columns)
    for r in rows(frame):
        ws.append([r[c] for c in frame.columns])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def chart_svg(frame: pl.DataFrame, metric: str, subtitle: str) -> str:
    """A horizontal bar chart of the metric's main figure per key (top ``CHART_BARS``)."""
    value = CHART_VALUE.get(metric, "revenue")
    if metric == "retention_cohorts" and frame.height:
        frame = frame.filter(pl.col("week_offset") == 1)  # retention after one week
    cells = [(str(r["key"]), _cell(r.get(value))) for r in frame.head(CHART_BARS).to_dicts()]
    data = [(k, float(v) if isinstance(v, int | float) else 0.0) for k, v in cells]
    width, bar_h, left, top = 720, 18, 180, 56
    height = top + bar_h * max(len(data), 1) + 24
    peak = max((v for _, v in data), default=0.0) or 1.0
    scale = (width - left - 90) / peak
    money = value in MONEY
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="WenQuanYi Micro Hei, sans-serif">',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="12" y="22" font-size="16" font-weight="bold">{escape(metric)}</text>',
        f'<text x="12" y="42" font-size="12" fill="#555">{escape(subtitle)} · '
        f'{escape(value)}{" (元)" if money else ""}</text>',
    ]
    if not data:
        parts.append(f'<text x="12" y="{top + 14}" font-size="12">无数据 / no data</text>')
    for i, (key, v) in enumerate(data):
        y = top + i * bar_h
        shown = f"{v / 100:,.2f}" if money else (f"{v:.1%}" if value in ("rate", "conversion")
                                                  else f"{v:,.2f}")
        parts += [
            f'<text x="{left - 6}" y="{y + 13}" font-size="11" text-anchor="end">'
            f'{escape(key[:24])}</text>',
            f'<rect x="{left}" y="{y + 3}" width="{max(v * scale, 0):.1f}" height="{bar_h - 6}"'
            f' fill="#2f7ed8"/>',
            f'<text x="{left + max(v * scale, 0) + 4:.1f}" y="{y + 13}" font-size="11">'
            f'{escape(shown)}</text>']
    parts.append("</svg>")
    return "\n".join(parts)
