"""The Chinese retail calendar the forecasts know about, and each store's uplift on it.

Days are labelled (new-year shopping before Spring Festival, Spring Festival itself,
the May and October golden weeks, the 6.18 / 11.11 / 12.12 shopping festivals). The
uplift of a label is learned from the store's own history: its sales on those days over
the weekday-adjusted level of the surrounding ordinary days (median over the days seen).
A label the history has not seen yet has no uplift (1.0): nothing is assumed.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

# Spring Festival (正月初一) by year; the calendar is lunar, so it is listed.
SPRING_FESTIVAL = {2023: date(2023, 1, 22), 2024: date(2024, 2, 10), 2025: date(2025, 1, 29),
                   2026: date(2026, 2, 17), 2027: date(2027, 2, 6), 2028: date(2028, 1, 26),
                   2029: date(2029, 2, 13), 2030: date(2030, 2, 3)}
SHOPPING_FESTIVALS = {(6, 18), (11, 11), (12, 12)}
WINDOW = 21  # ordinary days either side that make a festival day's baseline
UPLIFT_RANGE = (0.2, 5.0)


def label(day: date) -> str | None:
    """The calendar label of a day, or ``None`` for an ordinary day."""
    for fest in (SPRING_FESTIVAL.get(day.year), SPRING_FESTIVAL.get(day.year + 1)):
        if fest is None:
            continue
        delta = (day - fest).days
        if -14 <= delta <= -2:
            return "new_year_shopping"
        if -1 <= delta <= 4:
            return "spring_festival"
    if (day.month == 5 and day.day <= 3) or (day.month == 10 and day.day <= 5):
        return "golden_week"
    if (day.month, day.day) in SHOPPING_FESTIVALS:
        return "shopping_festival"
    return None


def labels(start: date, days: int) -> list[str | None]:
    return [label(start + timedelta(days=d)) for d in range(days)]


def uplift_factors(y: np.ndarray, groups: np.ndarray, start: date,
                   h: int) -> tuple[np.ndarray, np.ndarray]:
    """Per series: the factor of each history day and of each of the ``h`` next days."""
    n, t_len = y.shape
    past = labels(start, t_len)
    future = labels(start + timedelta(days=t_len), h)
    f_past = np.ones((n, t_len))
    f_future = np.ones((n, h))
    ordinary = np.array([lb is None for lb in past])
    weekday = np.arange(t_len) % 7
    for g in np.unique(groups):
        rows = groups == g
        total = y[rows].sum(axis=0)
        if not total[ordinary].any():
            continue
        prof = np.array([total[ordinary & (weekday == j)].mean() if (ordinary & (weekday == j))
                         .any() else 0.0 for j in range(7)])
        prof = np.where(prof > 0, prof / max(prof.mean(), 1e-9), 1.0)
        plain = total / prof[weekday]
        found: dict[str, list[float]] = {}
        for t, lb in enumerate(past):
            if lb is None:
                continue
            lo, hi = max(0, t - WINDOW), min(t_len, t + WINDOW + 1)
            near = plain[lo:hi][ordinary[lo:hi]]
            if len(near) and near.mean() > 0:
                found.setdefault(lb, []).append(plain[t] / near.mean())
        uplift = {lb: float(np.clip(np.median(v), *UPLIFT_RANGE)) for lb, v in found.items()}
        f_past[rows] = np.array([uplift.get(lb, 1.0) if lb else 1.0 for lb in past])
        f_future[rows] = np.array([uplift.get(lb, 1.0) if lb else 1.0 for lb in future])
    return f_past, f_future
