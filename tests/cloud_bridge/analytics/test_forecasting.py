"""Forecasters on series whose right answer is known."""

from __future__ import annotations

import numpy as np

from cloud_bridge.analytics.forecasting import (
    croston_sba,
    ets_ana,
    ets_pooled,
    forecast,
    mase,
    seasonal_naive,
    wape,
)

WEEK = np.array([5, 5, 5, 6, 8, 14, 12], float)


def test_seasonal_naive_repeats_the_last_week():
    y = np.arange(21, dtype=float)[None, :]
    assert seasonal_naive(y, 9).tolist() == [[14, 15, 16, 17, 18, 19, 20, 14, 15]]


def test_ets_recovers_a_clean_weekly_pattern():
    y = np.tile(WEEK, 12)[None, :]
    f = ets_ana(y, 14)
    assert np.allclose(f[0], np.tile(WEEK, 2), atol=0.05)
    assert np.allclose(ets_pooled(y, 14)[0], np.tile(WEEK, 2), atol=0.3)


def test_croston_sba_on_a_regular_intermittent_series():
    # 4 units every 4th day: rate 1/day; SBA shrinks it by (1 - 0.1/2)
    y = np.zeros((1, 120))
    y[0, 3::4] = 4
    assert np.allclose(croston_sba(y, 5), 0.95, atol=0.01)
    assert not croston_sba(np.zeros((1, 30)), 3).any()


def test_forecast_chooses_per_series_and_beats_the_naive_on_noisy_series():
    rng = np.random.default_rng(5)
    days = 140
    smooth = rng.poisson(np.tile(WEEK, days // 7) * 3, size=(30, days)).astype(float)
    sparse = (rng.random((30, days)) < 0.08) * rng.integers(1, 5, (30, days))
    y = np.vstack([smooth, sparse])
    train, actual = y[:, :-14], y[:, -14:]
    f = forecast(train, 14)
    assert f.point.shape == (60, 14) and (f.lo <= f.point).all() and (f.point <= f.hi).all()
    assert (f.lo >= 0).all()
    assert wape(actual, f.point) < 0.9 * wape(actual, seasonal_naive(train, 14))
    assert mase(actual, f.point, train) < mase(actual, seasonal_naive(train, 14), train)
    # the sparse half is mostly forecast by Croston/SBA or pooled smoothing, never naive-only
    assert set(f.method[30:]) <= {"croston_sba", "ets_pooled", "ets", "seasonal_naive"}
    assert (f.method[30:] != "seasonal_naive").mean() > 0.7
    inside = ((actual >= f.lo) & (actual <= f.hi)).mean()
    assert inside > 0.75


def test_wape_and_mase_by_hand():
    actual = np.array([[2.0, 0.0, 4.0]])
    pred = np.array([[1.0, 1.0, 4.0]])
    assert wape(actual, pred) == 2 / 6
    history = np.array([[1.0, 2.0, 3.0, 5.0]])  # lag-1 naive errors 1, 1, 2 -> scale 4/3
    assert mase(actual, pred, history, m=1) == (2 / 3) / (4 / 3)


def test_festival_uplift_is_learned_and_put_on_the_days_ahead():
    from datetime import date

    from cloud_bridge.analytics.festivals import label

    assert label(date(2026, 2, 10)) == "new_year_shopping"  # a week before 2026-02-17
    assert label(date(2026, 2, 18)) == "spring_festival"
    assert label(date(2026, 10, 3)) == "golden_week" and label(date(2026, 11, 11)) == (
        "shopping_festival")
    assert label(date(2026, 3, 3)) is None
    # 2026-05-01..03 sell double; the forecast from 2026-09-29 doubles 10-01..10-05
    start = date(2026, 3, 2)
    days = (date(2026, 9, 29) - start).days
    y = np.full((2, days), 10.0)
    for d in range(days):
        if label(date.fromordinal(start.toordinal() + d)) == "golden_week":
            y[:, d] = 20.0
    f = forecast(y, 14, start=start)
    assert np.allclose(f.point[:, :2], 10, atol=0.5)  # 09-29, 09-30
    assert np.allclose(f.point[:, 2:7], 20, atol=1.0)  # 10-01 .. 10-05
    assert np.allclose(f.point[:, 7:], 10, atol=0.5)
