"""Every sales metric, defined once (formulas: ``docs/metrics.md``).

Each function takes polars frames (the canonical frames of :mod:`.frames`, or the fact
tables the nightly job writes, which have the same columns) and returns a frame. The API,
the CSV/XLSX exports and the charts all call these, so a number is computed one way.
Money is integer fen; rates are floats in [0, 1]; a change is ``None`` when the previous
period had nothing to compare with.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl

SALES_DIMS = ("product", "category", "store", "day")
_DIM_COLUMN = {"product": "product_id", "category": "category", "store": "store",
               "day": "business_date"}


# --------------------------------------------------------------------------- fact tables


def daily_sales(lines: pl.DataFrame) -> pl.DataFrame:
    """Per store, business day and product: units, revenue, discount, lines (unordered:
    sorting half a million string keys would cost more than the aggregation)."""
    return (lines.group_by("store", "business_date", "product_id", "category")
            .agg(pl.col("qty").sum(), pl.col("amount").sum().alias("revenue"),
                 pl.col("discount").sum(), pl.len().cast(pl.Int32).alias("lines")))


def hourly_sales(orders: pl.DataFrame) -> pl.DataFrame:
    """Per store, business day and hour: orders, net revenue, discount, member orders."""
    return (orders.group_by("store", "business_date", "hour")
            .agg(pl.len().cast(pl.Int32).alias("orders"), pl.col("net").sum().alias("revenue"),
                 pl.col("discount_total").sum().alias("discount"),
                 pl.col("member_id").is_not_null().sum().cast(pl.Int32).alias("member_orders"))
            .sort("store", "business_date", "hour"))


def payments_daily(tenders: pl.DataFrame) -> pl.DataFrame:
    """Per store, business day and tender method: number of tenders and amount."""
    return (tenders.group_by("store", "business_date", "method")
            .agg(pl.len().cast(pl.Int32).alias("payments"), pl.col("amount").sum())
            .sort("store", "business_date", "method"))


# --------------------------------------------------------------------------- periods


def previous_period(start: date, end: date) -> tuple[date, date]:
    """The period of the same length just before ``start..end``."""
    length = (end - start).days + 1
    return start - timedelta(days=length), start - timedelta(days=1)


def _between(frame: pl.DataFrame, start: date, end: date) -> pl.DataFrame:
    return frame.filter(pl.col("business_date").is_between(start, end))


def _change(cur: str, prev: str) -> pl.Expr:
    return (pl.when(pl.col(prev) > 0)
            .then((pl.col(cur) - pl.col(prev)) / pl.col(prev))
            .otherwise(None))


# --------------------------------------------------------------------------- metrics


def sales_by(daily: pl.DataFrame, dim: str, start: date, end: date) -> pl.DataFrame:
    """Revenue and units per ``dim`` in ``start..end`` against the previous period.

    Columns: key, revenue, qty, prev_revenue, prev_qty, change (revenue, relative).
    For ``dim="day"`` the previous value is the same weekday one period earlier.
    """
    col = _DIM_COLUMN[dim]
    cur = _between(daily, start, end)
    p_start, p_end = previous_period(start, end)
    prev = _between(daily, p_start, p_end)
    if dim == "day":
        shift = pl.duration(days=(end - start).days + 1)
        prev = prev.with_columns(pl.col("business_date") + shift)
    agg = [pl.col("revenue").sum(), pl.col("qty").sum()]
    c = cur.group_by(col).agg(agg)
    p = prev.group_by(col).agg(agg).rename({"revenue": "prev_revenue", "qty": "prev_qty"})
    out = (c.join(p, on=col, how="left" if dim == "day" else "full", coalesce=True)
           .with_columns(pl.col("revenue", "qty", "prev_revenue", "prev_qty").fill_null(0)))
    out = out.with_columns(_change("revenue", "prev_revenue").alias("change"))
    out = out.rename({col: "key"}).with_columns(pl.col("key").cast(pl.Utf8))
    return out.sort("key" if dim == "day" else ["revenue", "key"],
                    descending=dim != "day").select(
        "key", "revenue", "qty", "prev_revenue", "prev_qty", "change")


def sales_by_hour(hourly: pl.DataFrame, start: date, end: date) -> pl.DataFrame:
    """Orders and revenue per hour of day (0-23, store-local) in ``start..end``, with the
    average per day and the change against the previous period."""
    days = (end - start).days + 1
    p_start, p_end = previous_period(start, end)
    agg = [pl.col("orders").sum(), pl.col("revenue").sum()]
    c = _between(hourly, start, end).group_by("hour").agg(agg)
    p = (_between(hourly, p_start, p_end).group_by("hour").agg(agg)
         .rename({"orders": "prev_orders", "revenue": "prev_revenue"}))
    return (pl.DataFrame({"hour": list(range(24))}, schema={"hour": pl.Int32})
            .join(c.with_columns(pl.col("hour").cast(pl.Int32)), on="hour", how="left")
            .join(p.with_columns(pl.col("hour").cast(pl.Int32)), on="hour", how="left")
            .with_columns(pl.col("orders", "revenue", "prev_orders", "prev_revenue").fill_null(0))
            .with_columns((pl.col("revenue") / days).alias("revenue_per_day"),
                          _change("revenue", "prev_revenue").alias("change"))
            .rename({"hour": "key"}))


def average_order_value(hourly: pl.DataFrame, start: date, end: date,
                        by: str | None = "store") -> pl.DataFrame:
    """客单价: net revenue / orders per store (``by="store"``), day or overall (``None``),
    with the previous period's value and the change."""
    p_start, p_end = previous_period(start, end)
    keys = {"store": ["store"], "day": ["business_date"], None: []}[by]

    def agg(frame: pl.DataFrame) -> pl.DataFrame:
        exprs = [pl.col("orders").sum(), pl.col("revenue").sum()]
        if keys:
            return frame.group_by(keys).agg(exprs)
        return frame.select(exprs)

    cur = agg(_between(hourly, start, end))
    prev = agg(_between(hourly, p_start, p_end))
    if by == "day":
        prev = prev.with_columns(pl.col("business_date") + pl.duration(days=(end - start).days + 1))
    prev = prev.rename({"orders": "prev_orders", "revenue": "prev_revenue"})
    out = (cur.join(prev, on=keys, how="left") if keys
           else pl.concat([cur, prev], how="horizontal"))
    out = out.with_columns(pl.col("prev_orders", "prev_revenue").fill_null(0)).with_columns(
        pl.when(pl.col("orders") > 0).then(pl.col("revenue") / pl.col("orders"))
        .otherwise(None).alias("aov"),
        pl.when(pl.col("prev_orders") > 0).then(pl.col("prev_revenue") / pl.col("prev_orders"))
        .otherwise(None).alias("prev_aov"))
    out = out.with_columns(_change("aov", "prev_aov").alias("change"))
    key = (pl.col(keys[0]).cast(pl.Utf8) if keys else pl.lit("all")).alias("key")
    return out.select(key, "orders", "revenue", "aov", "prev_aov", "change").sort("key")


def payment_mix(payments: pl.DataFrame, start: date, end: date) -> pl.DataFrame:
    """Share of tender amount and count per payment method in ``start..end``."""
    cur = _between(payments, start, end).group_by("method").agg(
        pl.col("payments").sum(), pl.col("amount").sum())
    return (cur.with_columns(
        (pl.col("amount") / pl.col("amount").sum()).fill_nan(0.0).alias("amount_share"),
        (pl.col("payments") / pl.col("payments").sum()).fill_nan(0.0).alias("count_share"))
        .rename({"method": "key"}).sort("amount", "key", descending=[True, False]))


def week_start(col: str) -> pl.Expr:
    """The Monday of the week of a date column."""
    return pl.col(col).dt.truncate("1w")


def retention_cohorts(orders: pl.DataFrame, per_store: bool = False) -> pl.DataFrame:
    """Members by week of first purchase; share still buying k weeks later.

    Columns: store ("*" chain-wide, else the member's first store), cohort_week,
    week_offset, cohort_size, members, rate.
    """
    m = orders.filter(pl.col("member_id").is_not_null()).with_columns(
        week_start("business_date").alias("week"))
    first = (m.sort("business_date", "order_id").group_by("member_id")
             .agg(pl.col("week").first().alias("cohort_week"),
                  pl.col("store").first().alias("first_store")))
    visits = m.select("member_id", "week").unique().join(first, on="member_id")
    visits = visits.with_columns(
        ((pl.col("week") - pl.col("cohort_week")).dt.total_days() // 7).cast(pl.Int32)
        .alias("week_offset"),
        (pl.col("first_store") if per_store else pl.lit("*")).alias("store"))
    size = (first.with_columns((pl.col("first_store") if per_store else pl.lit("*"))
                               .alias("store"))
            .group_by("store", "cohort_week").agg(pl.len().cast(pl.Int32).alias("cohort_size")))
    out = (visits.group_by("store", "cohort_week", "week_offset")
           .agg(pl.len().cast(pl.Int32).alias("members"))
           .join(size, on=["store", "cohort_week"]))
    return out.with_columns((pl.col("members") / pl.col("cohort_size")).alias("rate")).sort(
        "store", "cohort_week", "week_offset").select(
        "store", "cohort_week", "week_offset", "cohort_size", "members", "rate")


def repurchase_rate(orders: pl.DataFrame, start: date, end: date,
                    by: str | None = None) -> pl.DataFrame:
    """复购率: members with 2+ orders in ``start..end`` / members with 1+ orders there."""
    m = _between(orders, start, end).filter(pl.col("member_id").is_not_null())
    keys = ["store"] if by == "store" else []
    per = m.group_by([*keys, "member_id"]).agg(pl.len().alias("n"))
    exprs = [pl.len().cast(pl.Int64).alias("buyers"),
             (pl.col("n") >= 2).sum().cast(pl.Int64).alias("repeat_buyers")]
    out = per.group_by(keys).agg(exprs) if keys else per.select(exprs)
    key = (pl.col("store") if keys else pl.lit("all")).alias("key")
    return out.with_columns(
        pl.when(pl.col("buyers") > 0).then(pl.col("repeat_buyers") / pl.col("buyers"))
        .otherwise(None).alias("rate")).select(key, "buyers", "repeat_buyers", "rate").sort("key")


FUNNEL_STEPS = ("session_start", "item_scanned", "payment_attempted", "paid")


def conversion_funnel(events: pl.DataFrame, by: str | None = None) -> pl.DataFrame:
    """Sessions reaching each funnel step, and conversion = paid sessions / sessions.

    ``events`` has session_id, type, store, channel (the session's entry channel is its
    first non-null channel). Columns: key, sessions, then one count per step, conversion.
    """
    e = events.filter(pl.col("session_id").is_not_null())
    sess = e.sort("at").group_by("session_id").agg(
        pl.col("store").drop_nulls().first(), pl.col("channel").drop_nulls().first(),
        *[(pl.col("type") == step).any().alias(step) for step in FUNNEL_STEPS])
    keys = [by] if by is not None and by in ("store", "channel") else []
    exprs = [pl.len().cast(pl.Int64).alias("sessions"),
             *[pl.col(step).sum().cast(pl.Int64) for step in FUNNEL_STEPS[1:]]]
    out = sess.group_by(keys).agg(exprs) if keys else sess.select(exprs)
    key = (pl.col(keys[0]).fill_null("unknown") if keys else pl.lit("all")).alias("key")
    return out.with_columns(
        pl.when(pl.col("sessions") > 0).then(pl.col("paid") / pl.col("sessions"))
        .otherwise(None).alias("conversion")).select(
        key, "sessions", *FUNNEL_STEPS[1:], "conversion").sort("key")


SESSION_DIMS = {"store": "store", "kiosk": "kiosk", "day": "business_date",
                 "method": "method"}


def _ratio(num: pl.Expr, den: pl.Expr) -> pl.Expr:
    return pl.when(den > 0).then(num / den).otherwise(None)


def kiosk_sessions(sessions: pl.DataFrame, by: str | None = None) -> pl.DataFrame:
    """Kiosk session KPIs from the sessions' summaries, overall or per store / kiosk / day /
    method (the last one tried).

    ``sessions`` has store, kiosk, business_date, outcome, items_scanned, items_removed,
    payment_attempts, method, pay_seconds, error_count, help_calls, duration_s.
    """
    col = SESSION_DIMS.get(by or "")
    paid = pl.col("outcome") == "paid"
    exprs = [
        pl.len().cast(pl.Int64).alias("sessions"),
        paid.sum().cast(pl.Int64).alias("paid"),
        (pl.col("outcome") == "abandoned").sum().cast(pl.Int64).alias("abandoned"),
        (pl.col("outcome") == "cancelled").sum().cast(pl.Int64).alias("cancelled"),
        (pl.col("outcome") == "parked").sum().cast(pl.Int64).alias("parked"),
        pl.col("items_scanned").mean().alias("avg_items"),
        _ratio(pl.col("items_removed").sum(), pl.col("items_scanned").sum()).alias(
            "removal_rate"),
        pl.col("duration_s").mean().alias("avg_session_s"),
        pl.col("pay_seconds").filter(paid).median().alias("median_pay_s"),
        pl.col("pay_seconds").filter(paid).mean().alias("avg_pay_s"),
        _ratio(pl.col("payment_attempts").filter(paid).sum(), paid.sum()).alias(
            "attempts_per_paid"),
        (pl.col("error_count") > 0).sum().cast(pl.Int64).alias("error_sessions"),
        pl.col("error_count").sum().cast(pl.Int64).alias("errors"),
        pl.col("help_calls").sum().cast(pl.Int64).alias("help_calls"),
    ]
    out = sessions.group_by(col).agg(exprs) if col else sessions.select(exprs)
    key = (pl.col(col).cast(pl.Utf8).fill_null("none") if col else pl.lit("all")).alias("key")
    return out.with_columns(
        _ratio(pl.col("paid"), pl.col("sessions")).alias("paid_rate"),
        _ratio(pl.col("abandoned") + pl.col("cancelled"), pl.col("sessions")).alias(
            "abandon_rate"),
        _ratio(pl.col("error_sessions"), pl.col("sessions")).alias("error_rate"),
    ).select(key, "sessions", "paid", "abandoned", "cancelled", "parked", "paid_rate",
             "abandon_rate", "avg_items", "removal_rate", "avg_session_s", "median_pay_s",
             "avg_pay_s", "attempts_per_paid", "error_sessions", "error_rate", "errors",
             "help_calls").sort("key")


def session_errors(errors: pl.DataFrame, sessions: int) -> pl.DataFrame:
    """Per error code: times seen, sessions that saw it, their share of all ``sessions``.

    ``errors`` has one row per (session, code) with ``n`` (times seen in that session).
    """
    out = errors.group_by("code").agg(pl.col("n").sum().cast(pl.Int64).alias("count"),
                                      pl.len().cast(pl.Int64).alias("sessions"))
    return out.with_columns(
        (pl.col("sessions") / sessions if sessions else pl.lit(None, pl.Float64))
        .alias("session_share")).rename({"code": "key"}).sort(
        "count", "key", descending=[True, False])


@dataclass(frozen=True)
class Campaign:
    """A campaign to evaluate: its products (or all), stores, dates and control stores."""

    start: date
    end: date
    products: tuple[str, ...] = ()
    stores: tuple[str, ...] = ()
    control_stores: tuple[str, ...] = ()
    cost: int = 0  # fen spent besides the discounts (printing, ads)


def campaign_effect(daily: pl.DataFrame, c: Campaign) -> pl.DataFrame:
    """Revenue, discount cost, incremental revenue and ROI of a campaign.

    Baseline: the control stores' growth applied to the campaign stores' previous period
    when control stores are given, else the previous period of the same length.
    incremental = revenue - baseline; ROI = (incremental - discount - cost) / (discount + cost).
    """
    d = daily.filter(pl.col("product_id").is_in(list(c.products))) if c.products else daily

    def total(frame: pl.DataFrame, stores: tuple[str, ...], s: date, e: date) -> tuple[int, int]:
        f = _between(frame, s, e)
        if stores:
            f = f.filter(pl.col("store").is_in(list(stores)))
        return int(f["revenue"].sum()), int(f["discount"].sum())

    p_start, p_end = previous_period(c.start, c.end)
    revenue, discount = total(d, c.stores, c.start, c.end)
    prev_revenue, _ = total(d, c.stores, p_start, p_end)
    baseline = float(prev_revenue)
    if c.control_stores:
        ctl_now, _ = total(d, c.control_stores, c.start, c.end)
        ctl_prev, _ = total(d, c.control_stores, p_start, p_end)
        baseline = prev_revenue * (ctl_now / ctl_prev) if ctl_prev else float(prev_revenue)
    incremental = revenue - baseline
    spend = discount + c.cost
    lines = int(_between(d, c.start, c.end).filter(
        pl.col("store").is_in(list(c.stores)) if c.stores else pl.lit(True))["lines"].sum())
    return pl.DataFrame({
        "key": ["campaign"], "lines": [lines], "revenue": [revenue], "discount": [discount],
        "baseline": [baseline], "incremental": [incremental],
        "roi": [(incremental - spend) / spend if spend else None]})
