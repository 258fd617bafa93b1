"""Member profiles (RFM, value, preferences, price sensitivity), churn and basket rules.

Formulas are in ``docs/metrics.md``; in short:

* RFM: recency (days since the last order), frequency (orders), monetary (net revenue),
  each scored 1-5 by quintile among the members who bought (5 = most recent / most
  frequent / highest spend); segments from the scores (champions, loyal, new, ...).
* Churn, BG/NBD-style: a member buys every ``gap`` days on average (their own mean
  inter-purchase gap; the chain's median for one-time buyers) and may drop out after any
  purchase with probability ``DROPOUT``. After ``R`` quiet days,
  ``p_alive = (1-d) e^(-R/gap) / ((1-d) e^(-R/gap) + d)``; churned when ``p_alive < 0.5``.
* Lifetime value (next 365 days): ``p_alive * aov * (1 - (1-d)^N) / d`` with
  ``N = 365 / gap`` expected purchase opportunities.
* Basket rules ``A -> B``: support = baskets with both / baskets, confidence = baskets with
  both / baskets with A, lift = confidence / (baskets with B / baskets).
"""

from __future__ import annotations

from datetime import date
from typing import Literal, get_args

import polars as pl

DROPOUT = 0.1
CHURN_P_ALIVE = 0.5
LTV_DAYS = 365
Segment = Literal["champions", "new", "loyal", "at_risk", "lost", "hibernating", "potential"]
SEGMENTS: tuple[Segment, ...] = get_args(Segment)


def _quintile(col: str, descending: bool = False) -> pl.Expr:
    """1..5 by rank (ties share the average rank); 5 is the best end."""
    rank = pl.col(col).rank("average", descending=descending)
    return ((rank - 1) * 5 // pl.len() + 1).clip(1, 5).cast(pl.Int32)


def member_profiles(orders: pl.DataFrame, lines: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """One row per member who bought up to ``as_of``: RFM, segment, LTV, preferences, churn."""
    o = orders.filter(pl.col("member_id").is_not_null() & (pl.col("business_date") <= as_of))
    if o.is_empty():
        return pl.DataFrame()
    base = o.group_by("member_id").agg(
        pl.col("business_date").min().alias("first_date"),
        pl.col("business_date").max().alias("last_date"),
        pl.len().cast(pl.Int32).alias("orders"),
        pl.col("business_date").n_unique().alias("days"),
        pl.col("net").sum().alias("revenue"))
    base = base.with_columns(
        (pl.lit(as_of) - pl.col("last_date")).dt.total_days().cast(pl.Int32)
        .alias("recency_days"),
        pl.when(pl.col("days") >= 2)
        .then((pl.col("last_date") - pl.col("first_date")).dt.total_days()
              / (pl.col("days") - 1))
        .otherwise(None).alias("own_gap"))
    median_gap = base["own_gap"].median()
    fallback = float(median_gap) if isinstance(median_gap, int | float) else 30.0
    base = base.with_columns(
        pl.col("own_gap").alias("expected_gap_days"),
        pl.col("own_gap").fill_null(fallback).clip(1.0).alias("_gap"),
        _quintile("recency_days", descending=True).alias("r_score"),
        _quintile("orders").alias("f_score"),
        _quintile("revenue").alias("m_score"))
    alive = (1 - DROPOUT) * (-pl.col("recency_days") / pl.col("_gap")).exp()
    base = base.with_columns((alive / (alive + DROPOUT)).alias("p_alive"))
    n_future = LTV_DAYS / pl.col("_gap")
    base = base.with_columns(
        (pl.col("p_alive") < CHURN_P_ALIVE).alias("churned"),
        (pl.col("p_alive") * (pl.col("revenue") / pl.col("orders"))
         * (1 - (1 - DROPOUT) ** n_future) / DROPOUT).round(0).cast(pl.Int64).alias("ltv"))
    fm = (pl.col("f_score") + pl.col("m_score")) / 2
    r = pl.col("r_score")
    base = base.with_columns(
        pl.when((r >= 4) & (fm >= 4)).then(pl.lit("champions"))
        .when((r >= 4) & (pl.col("orders") == 1)).then(pl.lit("new"))
        .when((r >= 3) & (fm >= 3)).then(pl.lit("loyal"))
        .when((r <= 2) & (fm >= 3)).then(pl.lit("at_risk"))
        .when(r == 1).then(pl.lit("lost"))
        .when(r == 2).then(pl.lit("hibernating"))
        .otherwise(pl.lit("potential")).alias("segment"))
    prefs = preferences(o, lines.filter(pl.col("member_id").is_not_null()
                                         & (pl.col("business_date") <= as_of)))
    return base.join(prefs, on="member_id", how="left").with_columns(
        pl.col("promo_share").fill_null(0.0)).select(
        "member_id", "first_date", "last_date", "orders", "revenue", "recency_days",
        "r_score", "f_score", "m_score", "segment", "ltv", "preferred_category",
        "preferred_store", "promo_share", "expected_gap_days", "p_alive", "churned").sort(
        "member_id")


def preferences(orders: pl.DataFrame, lines: pl.DataFrame) -> pl.DataFrame:
    """Per member: top category by spend, top store by orders, share of lines on promotion."""
    cat = (lines.group_by("member_id", "category").agg(pl.col("amount").sum())
           .sort(["member_id", "amount", "category"], descending=[False, True, False])
           .group_by("member_id", maintain_order=True).first()
           .select("member_id", pl.col("category").alias("preferred_category")))
    store = (orders.group_by("member_id", "store").agg(pl.len().alias("n"))
             .sort(["member_id", "n", "store"], descending=[False, True, False])
             .group_by("member_id", maintain_order=True).first()
             .select("member_id", pl.col("store").alias("preferred_store")))
    promo = lines.group_by("member_id").agg(pl.col("promo").mean().alias("promo_share"))
    return cat.join(store, on="member_id", how="full", coalesce=True).join(
        promo, on="member_id", how="left")


def basket_rules(lines: pl.DataFrame, min_baskets: int = 20, max_rules: int = 500,
                 min_lift: float = 1.0) -> pl.DataFrame:
    """Product pair rules ``A -> B`` with support, confidence and lift (both directions)."""
    items = lines.select("order_id", "product_id").unique()
    n_baskets = items["order_id"].n_unique()
    if n_baskets == 0:
        return pl.DataFrame(schema={"antecedent": pl.Utf8, "consequent": pl.Utf8,
                                    "support": pl.Float64, "confidence": pl.Float64,
                                    "lift": pl.Float64, "baskets": pl.Int64})
    counts = items.group_by("product_id").agg(pl.len().alias("n"))
    frequent = counts.filter(pl.col("n") >= min_baskets)
    items = items.join(frequent.select("product_id"), on="product_id")
    pairs = (items.join(items, on="order_id", suffix="_b")
             .filter(pl.col("product_id") != pl.col("product_id_b"))
             .group_by("product_id", "product_id_b").agg(pl.len().alias("baskets"))
             .filter(pl.col("baskets") >= min_baskets))
    rules = (pairs.join(counts.rename({"n": "n_a"}), on="product_id")
             .join(counts.rename({"product_id": "product_id_b", "n": "n_b"}), on="product_id_b")
             .with_columns((pl.col("baskets") / n_baskets).alias("support"),
                           (pl.col("baskets") / pl.col("n_a")).alias("confidence"))
             .with_columns((pl.col("confidence") / (pl.col("n_b") / n_baskets)).alias("lift"))
             .filter(pl.col("lift") >= min_lift))
    return (rules.sort(["lift", "baskets", "product_id", "product_id_b"],
                       descending=[True, True, False, False]).head(max_rules)
            .select(pl.col("product_id").alias("antecedent"),
                    pl.col("product_id_b").alias("consequent"), "support", "confidence",
                    "lift", pl.col("baskets").cast(pl.Int64)))
