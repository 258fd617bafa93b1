"""Forecast benchmark: rolling-origin backtest of 14-day demand forecasts on a chain year.

On a freshly generated chain year (3 stores, 2,000 products, ~1,000,000 order lines;
seed printed) every (store, product) daily-units series is forecast 14 days ahead from
``--origins`` rolling origins at the end of the year (each origin trains on everything
before it). Side by side, on the same series and origins:

* ours: :func:`cloud_bridge.analytics.forecasting.forecast` (seasonal naive, ETS(A,N,A),
  exponential smoothing with the store's weekly profile, Croston/SBA, chosen per series by
  its own inner backtest on the training data);
* seasonal naive (weekly), the baseline;
* reference: statsmodels' ``ExponentialSmoothing`` (Holt-Winters, additive weekly season,
  fitted by maximum likelihood per series), on a random sample of ``--sample`` series
  because it fits one series at a time (ours and the naive are also scored on that sample).

Prints WAPE (sum |y - f| / sum y) and MASE (vs the in-sample weekly naive) for each, the
interval coverage of ours, timings, and last ``forecast_ratio=<our WAPE / naive WAPE>``
on all series (goal <= 0.85, and our sample WAPE no worse than the reference's).

    .venv/bin/python bench/forecast.py [--seed N] [--origins 4] [--sample 300]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from cloud_bridge.analytics import metrics  # noqa: E402
from cloud_bridge.analytics.forecasting import (  # noqa: E402
    HORIZON,
    demand_matrix,
    forecast,
    mase,
    seasonal_naive,
    wape,
)
from cloud_bridge.analytics.frames import frames_from_year  # noqa: E402
from cloud_bridge.analytics.generator import generate  # noqa: E402


def reference_forecast(history: np.ndarray, h: int) -> np.ndarray:
    """statsmodels Holt-Winters (additive weekly season, no trend) per series."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    out = np.zeros((history.shape[0], h))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i, series in enumerate(history):
            if not series.any():
                continue  # nothing to fit: forecast zero
            try:
                fit = ExponentialSmoothing(series, trend=None, seasonal="add",
                                           seasonal_periods=7,
                                           initialization_method="estimated").fit()
                out[i] = np.maximum(fit.forecast(h), 0.0)
            except (ValueError, np.linalg.LinAlgError):
                out[i] = series[-7:].mean()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=None, help="generator seed (fresh by default)")
    ap.add_argument("--origins", type=int, default=4, help="rolling origins, 14 days apart")
    ap.add_argument("--sample", type=int, default=120,
                    help="series scored against the reference library (0: skip it)")
    args = ap.parse_args()

    t0 = time.perf_counter()
    year = generate(args.seed)
    print(f"seed={year.seed}")
    daily = metrics.daily_sales(frames_from_year(year).lines)
    start = year.spec.start
    end = start + timedelta(days=year.spec.days - 1)
    keys, y = demand_matrix(daily, start, end)
    print(f"series={y.shape[0]} days={y.shape[1]} lines={year.lines.height} "
          f"units={int(y.sum())} generate_s={time.perf_counter() - t0:.1f}")
    groups = keys["store"].to_numpy()
    zero_share = float((y == 0).mean())
    print(f"zero_days_share={zero_share:.3f} (intermittent long tail)")

    rng = np.random.default_rng(year.seed + 1)
    sample = (np.sort(rng.choice(y.shape[0], size=min(args.sample, y.shape[0]), replace=False))
              if args.sample else np.array([], dtype=int))
    acts, ours, naive, refs, los, his, hists, chosen = [], [], [], [], [], [], [], []
    t_ours = t_ref = t_naive = 0.0
    for k in range(args.origins, 0, -1):
        cut = y.shape[1] - k * HORIZON
        train, actual = y[:, :cut], y[:, cut:cut + HORIZON]
        t = time.perf_counter()
        f = forecast(train, HORIZON, groups=groups, start=start)
        t_ours += time.perf_counter() - t
        t = time.perf_counter()
        sn = seasonal_naive(train, HORIZON)
        t_naive += time.perf_counter() - t
        if len(sample):
            t = time.perf_counter()
            refs.append(reference_forecast(train[sample], HORIZON))
            t_ref += time.perf_counter() - t
        acts.append(actual)
        ours.append(f.point)
        los.append(f.lo)
        his.append(f.hi)
        naive.append(sn)
        hists.append(train)
        chosen.append(f.method)
        print(f"origin day {cut} ({start + timedelta(days=cut)}): "
              f"ours WAPE {wape(actual, f.point):.3f}, naive WAPE {wape(actual, sn):.3f}")

    a, o, n = np.concatenate(acts, 1), np.concatenate(ours, 1), np.concatenate(naive, 1)
    lo, hi = np.concatenate(los, 1), np.concatenate(his, 1)
    # MASE per origin (its own history), averaged over origins
    m_ours = np.mean([mase(x, p, h) for x, p, h in zip(acts, ours, hists, strict=True)])
    m_naive = np.mean([mase(x, p, h) for x, p, h in zip(acts, naive, hists, strict=True)])
    methods, counts = np.unique(np.concatenate(chosen), return_counts=True)
    print("methods chosen: " + ", ".join(f"{m}={c}" for m, c in zip(methods, counts,
                                                                    strict=True)))
    print(f"all series: ours WAPE={wape(a, o):.4f} MASE={m_ours:.4f} "
          f"({t_ours:.1f}s for {args.origins} origins)")
    print(f"all series: seasonal_naive WAPE={wape(a, n):.4f} MASE={m_naive:.4f} "
          f"({t_naive:.2f}s)")
    print(f"ours 90% interval coverage={float(((a >= lo) & (a <= hi)).mean()):.3f}")
    if len(sample):
        r = np.concatenate(refs, 1)
        a_s, o_s, n_s = a[sample], o[sample], n[sample]
        ms = lambda preds: np.mean([  # noqa: E731
            mase(x[sample], p, h[sample]) for x, p, h in zip(acts, preds, hists, strict=True)])
        refs_split = np.split(r, args.origins, axis=1)
        print(f"sample of {len(sample)} series: ours WAPE={wape(a_s, o_s):.4f} "
              f"MASE={ms([p[sample] for p in ours]):.4f}")
        print(f"sample of {len(sample)} series: seasonal_naive WAPE={wape(a_s, n_s):.4f} "
              f"MASE={ms([p[sample] for p in naive]):.4f}")
        print(f"sample of {len(sample)} series: reference statsmodels ExponentialSmoothing "
              f"WAPE={wape(a_s, r):.4f} MASE={ms(refs_split):.4f} ({t_ref:.1f}s)")
        print(f"ours_vs_reference_wape_ratio={wape(a_s, o_s) / wape(a_s, r):.3f}")
    print(f"forecast_ratio={wape(a, o) / wape(a, n):.3f}")


if __name__ == "__main__":
    main()
