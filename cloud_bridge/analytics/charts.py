"""Analytics charts as PNG images (the console's SVG is :func:`.exports.chart_svg`).

Drawn with matplotlib's object API (a ``Figure`` on the Agg canvas, no pyplot state, so
several charts may render in threads at once) from the same metric table the API,
exports and SVG show. Labels are Chinese and English: the CJK font is WenQuanYi Micro
Hei (Debian's ``fonts-wqy-microhei``), registered once; without it Chinese would come
out as empty boxes, so a missing font is an error, not a silent fallback.

* ``sales_by_day``: the period's revenue per day as a line, the previous period's as a
  dashed line (the trend and the period-over-period comparison in one picture);
* ``sales_by_hour``: revenue per hour of day as columns;
* every other table: its main figure per key as horizontal bars (top ``CHART_BARS``),
  the column the SVG chart draws (:data:`.exports.CHART_VALUE`).
"""

from __future__ import annotations

import io
import threading
from functools import cache
from pathlib import Path

import polars as pl

from .exports import CHART_BARS, CHART_VALUE, MONEY, _cell

# Where Debian (fonts-wqy-microhei) and other systems put the font.
CJK_FONT_FILES = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/wqy-microhei/wqy-microhei.ttc"),
    Path("/usr/local/share/fonts/wqy-microhei.ttc"),
)
CJK_FAMILY = "WenQuanYi Micro Hei"
WIDTH_IN, DPI = 9.0, 100  # 900 px wide: readable in the console and in a chat message
BAR_COLOUR, PREV_COLOUR = "#2f7ed8", "#999999"
RATES = frozenset({"rate", "conversion", "paid_rate", "abandon_rate", "removal_rate",
                   "error_rate", "amount_share", "count_share", "session_share", "share"})
_LOCK = threading.Lock()  # the font registration, once


class ChartError(RuntimeError):
    """A chart cannot be drawn (the CJK font is missing)."""


@cache
def _font_family() -> str:
    from matplotlib import font_manager

    with _LOCK:
        for path in CJK_FONT_FILES:
            if path.is_file():
                font_manager.fontManager.addfont(str(path))
                return CJK_FAMILY
    raise ChartError("the CJK font WenQuanYi Micro Hei is not installed "
                     "(apt-get install fonts-wqy-microhei)")


def _value_label(value: str) -> str:
    return f"{value} (元)" if value in MONEY else value


def _shown(value: str, v: float) -> str:
    if value in MONEY:
        return f"{v / 100:,.2f}"
    if value in RATES:
        return f"{v:.1%}"
    return f"{v:,.2f}".rstrip("0").rstrip(".") if isinstance(v, float) else f"{v:,}"


def _number(v: object) -> float:
    cell = _cell(v)
    return float(cell) if isinstance(cell, int | float) else 0.0


def chart_png(frame: pl.DataFrame, metric: str, subtitle: str, *,
              value: str | None = None) -> bytes:
    """The metric table ``frame`` as a PNG chart (see the module docstring)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    family = _font_family()
    value = value or CHART_VALUE.get(metric, "revenue")
    if metric == "retention_cohorts" and frame.height:
        frame = frame.filter(pl.col("week_offset") == 1)  # retention after one week
    kind = {"sales_by_day": "line", "sales_by_hour": "columns"}.get(metric, "bars")
    rows = frame.to_dicts() if kind != "bars" else frame.head(CHART_BARS).to_dicts()
    height = 4.8 if kind != "bars" else 1.2 + 0.3 * max(len(rows), 3)
    fig = Figure(figsize=(WIDTH_IN, height), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    font = {"family": family}
    fig.suptitle(metric, x=0.01, ha="left", fontsize=14, fontfamily=family)
    ax.set_title(f"{subtitle} · {_value_label(value)}", loc="left", fontsize=10,
                 color="#555555", fontfamily=family)
    scale = 100.0 if value in MONEY else 1.0
    if not rows:
        ax.text(0.5, 0.5, "无数据 / no data", ha="center", va="center", fontsize=14,
                transform=ax.transAxes, fontfamily=family)
        ax.set_axis_off()
    elif kind == "line":
        days = [str(r["key"]) for r in rows]
        ax.plot(days, [_number(r.get(value)) / scale for r in rows], color=BAR_COLOUR,
                marker="o", label="本期 this period")
        if "prev_" + value in rows[0]:
            ax.plot(days, [_number(r.get("prev_" + value)) / scale for r in rows],
                    color=PREV_COLOUR, linestyle="--", label="上期 previous period")
        ax.legend(prop=font)
        ax.tick_params(axis="x", labelrotation=45)
    elif kind == "columns":
        ax.bar([str(r["key"]) for r in rows], [_number(r.get(value)) / scale for r in rows],
               color=BAR_COLOUR)
        ax.set_xlabel("时 hour", fontfamily=family)
    else:
        keys = [str(r["key"])[:24] for r in rows][::-1]
        values = [_number(r.get(value)) for r in rows][::-1]
        bars = ax.barh(keys, [v / scale for v in values], color=BAR_COLOUR)
        ax.bar_label(bars, labels=[_shown(value, v) for v in values], padding=3, fontsize=8,
                     fontfamily=family)
        ax.margins(x=0.15)
    for label in (*ax.get_xticklabels(), *ax.get_yticklabels()):
        label.set_fontfamily(family)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png", metadata={"Software": None})
    return out.getvalue()
