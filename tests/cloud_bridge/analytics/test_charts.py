"""PNG charts: a real PNG, Chinese drawn with the CJK font, bars as long as the data says."""

from __future__ import annotations

import io
import warnings

import polars as pl
import pytest
from PIL import Image

from cloud_bridge.analytics import charts

BLUE = (0x2F, 0x7E, 0xD8)


def decode(png: bytes) -> Image.Image:
    """The PNG decoded (Pillow checks the signature and every chunk's CRC)."""
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(png))
    image.load()
    assert image.format == "PNG"
    return image.convert("RGB")


def bar_lengths(image: Image.Image, colour: tuple[int, int, int] = BLUE) -> list[int]:
    """Length in pixels of each horizontal bar of ``colour``, top to bottom."""
    w, h = image.size
    px = image.load()
    runs = []
    for y in range(h):
        n = sum(1 for x in range(w) if px[x, y] == colour)
        runs.append(n)
    bars, current = [], 0
    for n in runs:  # consecutive rows with the colour are one bar: its longest row
        if n:
            current = max(current, n)
        elif current:
            bars.append(current)
            current = 0
    return bars


def blue_pixels(image: Image.Image) -> int:
    return sum(1 for p in image.getdata() if p == BLUE)


def test_bars_are_as_long_as_the_figures_and_chinese_is_drawn():
    frame = pl.DataFrame({"key": ["S1 上海徐汇店", "S2 北京朝阳店", "S3 广州"],
                          "revenue": [400_000, 200_000, 100_000]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Glyph ... missing from font" would fail here
        png = charts.chart_png(frame, "sales_by_store", "全部门店 all stores")
    image = decode(png)
    assert image.size[0] == charts.WIDTH_IN * charts.DPI and image.size[1] > 100
    bars = bar_lengths(image)
    assert len(bars) == 3
    assert bars[0] / bars[1] == pytest.approx(2, rel=0.03)
    assert bars[0] / bars[2] == pytest.approx(4, rel=0.03)


def test_day_trend_draws_both_periods_and_an_empty_table_says_no_data():
    days = pl.date_range(pl.date(2026, 1, 1), pl.date(2026, 1, 7), eager=True)
    frame = pl.DataFrame({"key": days, "revenue": [1000 * i for i in range(1, 8)],
                          "prev_revenue": [900] * 7})
    trend = decode(charts.chart_png(frame, "sales_by_day", "S1"))
    grey = sum(1 for p in trend.getdata() if p == (0x99, 0x99, 0x99))
    assert blue_pixels(trend) > 500 and grey > 100  # this period's line and last period's
    empty = decode(charts.chart_png(pl.DataFrame({"key": [], "revenue": []}), "payment_mix",
                                    "S1"))
    assert blue_pixels(empty) == 0
    assert len(set(empty.getdata())) > 2  # not a blank image: the title and 无数据 / no data


def test_without_the_cjk_font_a_chart_is_refused(monkeypatch):
    monkeypatch.setattr(charts, "CJK_FONT_FILES", ())
    charts._font_family.cache_clear()
    try:
        with pytest.raises(charts.ChartError, match="fonts-wqy-microhei"):
            charts.chart_png(pl.DataFrame({"key": ["a"], "revenue": [1]}), "sales_by_store",
                             "x")
    finally:
        charts._font_family.cache_clear()
