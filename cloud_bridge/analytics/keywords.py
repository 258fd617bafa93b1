"""Search keyword analysis: queries segmented with jieba; top, rising and zero-result terms.

A query such as ``进口鲜牛奶 1L`` is cut into words in jieba's search mode (``进口``,
``牛奶``, ``鲜牛奶``, ``1l``: long words also give their parts) so that
``牛奶`` counts once for every query that mentions it, however it was phrased. Rising
terms compare the period with the previous one of the same length. Zero-result queries
are kept whole: they are what shoppers looked for and the store does not list.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from cloud_bridge.textsearch import tokenize

from .metrics import previous_period

MIN_RISING_COUNT = 3  # a term needs this many searches in the period to count as rising


def _terms(searches: pl.DataFrame) -> pl.DataFrame:
    return searches.with_columns(
        pl.col("keyword").map_elements(tokenize, return_dtype=pl.List(pl.Utf8)).alias("term")
    ).explode("term").drop_nulls("term")


def keyword_report(searches: pl.DataFrame, start: date, end: date,
                   limit: int = 20) -> dict[str, pl.DataFrame]:
    """``top``, ``rising`` and ``zero_result`` tables for searches in ``start..end``.

    ``searches`` has business_date (Date), keyword (the raw query) and result_count.
    """
    p_start, p_end = previous_period(start, end)
    cur = searches.filter(pl.col("business_date").is_between(start, end))
    prev = searches.filter(pl.col("business_date").is_between(p_start, p_end))
    empty = pl.DataFrame(schema={"term": pl.Utf8})
    ct = _terms(cur).group_by("term").agg(pl.len().alias("searches")) if cur.height else empty
    pt = (_terms(prev).group_by("term").agg(pl.len().alias("prev_searches")) if prev.height
          else pl.DataFrame(schema={"term": pl.Utf8, "prev_searches": pl.UInt32}))
    if "searches" not in ct.columns:
        ct = pl.DataFrame(schema={"term": pl.Utf8, "searches": pl.UInt32})
    both = ct.join(pt, on="term", how="left").with_columns(pl.col("prev_searches").fill_null(0))
    top = both.sort(["searches", "term"], descending=[True, False]).head(limit)
    rising = (both.filter(pl.col("searches") >= MIN_RISING_COUNT)
              .with_columns(((pl.col("searches") + 1) / (pl.col("prev_searches") + 1))
                            .alias("growth"))
              .filter(pl.col("growth") > 1)
              .sort(["growth", "searches", "term"], descending=[True, True, False]).head(limit))
    zero = (cur.filter(pl.col("result_count") == 0)
            .with_columns(pl.col("keyword").str.strip_chars().str.to_lowercase())
            .group_by("keyword").agg(pl.len().alias("searches"))
            .sort(["searches", "keyword"], descending=[True, False]).head(limit))
    return {"top": top, "rising": rising, "zero_result": zero}
