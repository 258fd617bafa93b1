"""Daily demand forecasts per product and store, with intervals, chosen per series.

Three forecasters, each vectorised over all series at once (a matrix of series x days):

* **seasonal naive** (weekly): the same weekday of the last week;
* **exponential smoothing**, two forms: additive Holt-Winters without trend, ETS(A,N,A),
  with each series' own weekly season; and ``ets_pooled``, exponential smoothing of the
  level after dividing out a weekly profile estimated on the whole store's sales (a single
  slow item's own weekday pattern is mostly noise; the store's is not). Smoothing weights
  are picked per series from a grid by in-sample one-step error;
* **Croston/SBA** for intermittent series: smoothed demand size over smoothed interval,
  with the Syntetos-Boylan bias correction ``(1 - alpha/2)``.

Given the date of the first day, festival days (:mod:`.festivals`) are divided out of the
history by the uplift each store showed on them and multiplied back on the days ahead.

:func:`forecast` backtests them on the last weeks of each series (rolling origin,
``holdouts`` windows of the horizon's length), keeps the one with the smallest squared
error per series (absolute error would favour forecasting zero for sparse items, which
is useless to replenishment), refits on the whole history and sets the interval from that method's
backtest errors (normal, ``z`` = 1.645 for 90 %), never below zero.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

SEASON = 7
HORIZON = 14
Z90 = 1.645
# Smoothing weights tried for ETS (level alpha x seasonal gamma): small values because
# daily retail demand is noisy; the grid is the whole search, so it stays small.
ETS_ALPHAS = (0.03, 0.07, 0.15, 0.3)
ETS_GAMMAS = (0.02, 0.08, 0.2)
POOLED_ALPHAS = (0.01, 0.02, 0.04, 0.08, 0.15)
PROFILE_DAYS = 56  # the store's weekday profile comes from its last eight weeks
CROSTON_ALPHA = 0.1
METHODS = ("seasonal_naive", "ets", "ets_pooled", "croston_sba")


def seasonal_naive(y: np.ndarray, h: int = HORIZON, m: int = SEASON) -> np.ndarray:
    """The last observed season repeated: ``f[t+k] = y[T - m + k mod m]``."""
    last = y[:, -m:]
    return np.take(last, np.arange(h) % m, axis=1).astype(float)


def ets_ana(y: np.ndarray, h: int = HORIZON, m: int = SEASON,
            alphas: tuple[float, ...] = ETS_ALPHAS,
            gammas: tuple[float, ...] = ETS_GAMMAS) -> np.ndarray:
    """ETS(A,N,A): level + additive weekly season, weights per series by one-step SSE."""
    n, t_len = y.shape
    y = y.astype(float)
    warm = min(t_len, 2 * m)
    grid = [(a, g) for a in alphas for g in gammas]
    a = np.array([p[0] for p in grid])[:, None]
    g = np.array([p[1] for p in grid])[:, None]
    level0 = y[:, :warm].mean(axis=1)
    season0 = np.stack([y[:, j:warm:m].mean(axis=1) for j in range(m)], axis=1) - level0[:, None]
    level = np.broadcast_to(level0, (len(grid), n)).copy()
    season = np.broadcast_to(season0, (len(grid), n, m)).copy()
    sse = np.zeros((len(grid), n))
    for t in range(t_len):
        j = t % m
        err = y[:, t] - (level + season[:, :, j])
        if t >= warm:
            sse += err * err
        level += a * err
        season[:, :, j] += g * (1 - a) * err
    best = np.argmin(sse, axis=0)
    idx = np.arange(n)
    lv = level[best, idx]
    ss = season[best, idx]
    steps = (t_len + np.arange(h)) % m
    return np.maximum(lv[:, None] + ss[:, steps], 0.0)


def croston_sba(y: np.ndarray, h: int = HORIZON, alpha: float = CROSTON_ALPHA) -> np.ndarray:
    """Croston's method with the SBA correction: ``(1 - a/2) * size / interval``."""
    n, t_len = y.shape
    y = y.astype(float)
    nz = y > 0
    count = nz.sum(axis=1)
    size = np.where(count > 0, y.sum(axis=1) / np.maximum(count, 1), 0.0)
    interval = np.where(count > 0, t_len / np.maximum(count, 1), 1.0)
    since = np.zeros(n)
    z, p = size.copy(), interval.copy()
    for t in range(t_len):
        since += 1
        hit = nz[:, t]
        z = np.where(hit, z + alpha * (y[:, t] - z), z)
        p = np.where(hit, p + alpha * (since - p), p)
        since = np.where(hit, 0.0, since)
    rate = np.where(count > 0, (1 - alpha / 2) * z / np.maximum(p, 1e-9), 0.0)
    return np.repeat(rate[:, None], h, axis=1)


def weekday_profile(y: np.ndarray, groups: np.ndarray, m: int = SEASON) -> np.ndarray:
    """Per series, its group's multiplicative weekly profile (mean 1) over recent days."""
    n, t_len = y.shape
    days = min(t_len, PROFILE_DAYS)
    pos = np.arange(t_len - days, t_len) % m
    prof = np.ones((n, m))
    for g in np.unique(groups):
        rows = groups == g
        total = y[rows, -days:].sum(axis=0)
        p = np.array([total[pos == j].mean() if (pos == j).any() else 0.0 for j in range(m)])
        if p.mean() > 0:
            prof[rows] = np.maximum(p / p.mean(), 0.05)
    return prof


def ets_pooled(y: np.ndarray, h: int = HORIZON, groups: np.ndarray | None = None,
               m: int = SEASON, alphas: tuple[float, ...] = POOLED_ALPHAS) -> np.ndarray:
    """Exponential smoothing of the level with the group's weekly profile divided out."""
    n, t_len = y.shape
    groups = np.zeros(n, dtype=int) if groups is None else groups
    prof = weekday_profile(y, groups, m)
    z = y / prof[:, np.arange(t_len) % m]
    warm = min(t_len, 2 * m)
    a = np.array(alphas)[:, None]
    level = np.broadcast_to(z[:, :warm].mean(axis=1), (len(alphas), n)).copy()
    err_sum = np.zeros((len(alphas), n))
    for t in range(t_len):
        err = z[:, t] - level
        if t >= warm:
            err_sum += np.abs(err)
        level += a * err
    lv = level[np.argmin(err_sum, axis=0), np.arange(n)]
    return lv[:, None] * prof[:, (t_len + np.arange(h)) % m]


# The per-series forecasters: (history matrix, horizon) -> forecast matrix.
_FORECASTERS: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
    "seasonal_naive": seasonal_naive, "ets": ets_ana, "ets_pooled": ets_pooled,
    "croston_sba": croston_sba}


def _run(name: str, y: np.ndarray, h: int, groups: np.ndarray | None) -> np.ndarray:
    if name == "ets_pooled":
        return ets_pooled(y, h, groups)
    return _FORECASTERS[name](y, h)


@dataclass
class Forecasts:
    """Forecasts of ``n`` series over ``h`` days: chosen method, point and 90 % interval."""

    method: np.ndarray  # (n,) str
    point: np.ndarray  # (n, h)
    lo: np.ndarray
    hi: np.ndarray


def forecast(y: np.ndarray, h: int = HORIZON, holdouts: int = 3,
             methods: tuple[str, ...] = METHODS,
             groups: np.ndarray | None = None, start: date | None = None) -> Forecasts:
    """Per series, the method with the least backtest error, refit on all of ``y``.

    Args:
        y: units per series (rows) and day (columns), oldest first, no gaps.
        h: days ahead.
        holdouts: rolling-origin windows of ``h`` days at the end used to choose.
        methods: candidate forecasters (names of :data:`METHODS`).
        groups: per series, the group (store) whose weekly profile ``ets_pooled`` uses.
        start: the date of ``y``'s first column; with it, festival days are divided out
            of the history and their learned uplift put back on the days ahead
            (:mod:`.festivals`).
    """
    y = np.asarray(y, dtype=float)
    n, t_len = y.shape
    if start is not None:
        from .festivals import uplift_factors

        f_past, f_next = uplift_factors(y, np.zeros(n, dtype=int) if groups is None
                                        else groups, start, h)
        plain = forecast(y / f_past, h, holdouts, methods, groups, None)
        return Forecasts(plain.method, plain.point * f_next, plain.lo * f_next,
                         plain.hi * f_next)
    holdouts = max(0, min(holdouts, (t_len - 3 * SEASON) // h))
    sq = np.zeros((len(methods), n))
    for k in range(1, holdouts + 1):
        cut = t_len - k * h
        actual = y[:, cut:cut + h]
        for i, name in enumerate(methods):
            diff = actual - _run(name, y[:, :cut], h, groups)
            sq[i] += (diff * diff).sum(axis=1)
    default = methods.index("ets_pooled") if "ets_pooled" in methods else 0
    choice = np.argmin(sq, axis=0) if holdouts else np.full(n, default)
    point = np.zeros((n, h))
    for i, name in enumerate(methods):
        rows = np.nonzero(choice == i)[0]
        if len(rows):
            # ets_pooled needs the whole group for its profile: run on all, keep the rows
            full = _run(name, y, h, groups) if name == "ets_pooled" else _run(name, y[rows], h,
                                                                                None)
            point[rows] = full[rows] if name == "ets_pooled" else full
    if holdouts:
        sigma = np.sqrt(sq[choice, np.arange(n)] / (holdouts * h))
    else:
        sigma = y.std(axis=1)
    spread = Z90 * sigma[:, None] * np.ones((1, h))
    return Forecasts(np.array(methods)[choice], point, np.maximum(point - spread, 0.0),
                     point + spread)


def wape(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Weighted absolute percentage error: sum |y - f| / sum |y|."""
    return float(np.abs(actual - predicted).sum() / max(np.abs(actual).sum(), 1e-9))


def mase(actual: np.ndarray, predicted: np.ndarray, history: np.ndarray,
         m: int = SEASON) -> float:
    """Mean absolute scaled error: per series MAE / in-sample MAE of the lag-``m`` naive,
    averaged over the series whose scale is not zero."""
    scale = np.abs(history[:, m:] - history[:, :-m]).mean(axis=1)
    mae = np.abs(actual - predicted).mean(axis=1)
    ok = scale > 0
    return float((mae[ok] / scale[ok]).mean()) if ok.any() else float("nan")


def demand_matrix(daily: pl.DataFrame, start: date,
                  end: date) -> tuple[pl.DataFrame, np.ndarray]:
    """Units per (store, product) series and day from ``daily`` sales facts.

    Returns ``(keys, y)``: a polars frame of store, product_id (one row per series) and the
    matrix of units, days ``start..end`` as columns (a day without sales is 0).
    """
    days = (end - start).days + 1
    d = daily.filter(pl.col("business_date").is_between(start, end))
    keys = d.select("store", "product_id").unique().sort("store", "product_id")
    keys = keys.with_row_index("row")
    d = d.join(keys, on=["store", "product_id"]).with_columns(
        (pl.col("business_date") - pl.lit(start)).dt.total_days().alias("col"))
    y = np.zeros((keys.height, days))
    np.add.at(y, (d["row"].to_numpy(), d["col"].to_numpy()), d["qty"].to_numpy())
    return keys.drop("row"), y
