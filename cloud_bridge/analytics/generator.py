"""A realistic synthetic chain year: stores, products, members, orders, lines, tenders.

Used by the benches (full size, columnar frames) and by tests (small size, written into
the bridge's real ``orders``/``order_lines``/``payments`` tables by :mod:`.seed`).
Everything is drawn with numpy from one seed, vectorised: the full year (3 stores,
2,000 products, 20,000 members, ~1,000,000 order lines) takes a few seconds.

What makes it realistic enough to test forecasting and mining against:
weekly seasonality (weekend peaks), yearly seasonality per category (drinks in summer,
liquor before Spring Festival), holidays (Spring Festival surge then dip, Labour Day,
National Day, Double 11), weekly promotions that lift the promoted items, a long tail of
intermittent items, members with their own visit rate, preferred categories and promotion
affinity, and churners who stop buying at a random date.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import polars as pl

CATEGORIES = ("饮料", "零食", "乳品", "粮油", "日化", "生鲜", "冷冻", "酒类", "烘焙", "个护",
              "家居", "母婴")
# Median price (fen) per category; prices are lognormal around it.
CATEGORY_PRICE = (450, 690, 780, 2590, 1690, 990, 1590, 4990, 890, 2490, 2990, 6990)
# Peak day of year and amplitude of each category's yearly wave (drinks peak in July...).
CATEGORY_SEASON = ((200, 0.45), (30, 0.15), (0, 0.05), (30, 0.1), (0, 0.0), (180, 0.2),
                   (200, 0.4), (25, 0.5), (0, 0.05), (0, 0.05), (0, 0.0), (0, 0.0))
WEEKLY = (0.85, 0.82, 0.86, 0.9, 1.05, 1.32, 1.2)  # Mon..Sun
METHODS = ("wechat", "alipay", "card", "stored_value", "cash")
METHOD_SHARE = (0.56, 0.33, 0.05, 0.03, 0.03)
HOUR_WEEKDAY = np.array([0, 0, 0, 0, 0, 0, 0, 3, 8, 5, 4, 5, 8, 6, 4, 4, 5, 8, 11, 10, 7, 5, 3,
                         0], float)
HOUR_WEEKEND = np.array([0, 0, 0, 0, 0, 0, 0, 1, 3, 6, 8, 8, 8, 7, 7, 7, 8, 8, 9, 9, 7, 5, 3,
                         0], float)
CHINA_UTC_OFFSET = timedelta(hours=8)


def holiday_factors(start: date, days: int) -> np.ndarray:
    """Traffic multiplier per day: Spring Festival (2025-01-29, 2026-02-17) and others."""
    f = np.ones(days)
    festivals = {date(2025, 1, 29), date(2026, 2, 17), date(2027, 2, 6)}
    for d in range(days):
        day = start + timedelta(days=d)
        for sf in festivals:
            delta = (day - sf).days
            if -14 <= delta < -1:
                f[d] *= 1.35 + 0.05 * (14 + delta) / 13  # new-year shopping
            elif -1 <= delta <= 4:
                f[d] *= 0.45  # families at home; shops half empty
        if (day.month, day.day) in {(5, 1), (5, 2), (5, 3)} or (day.month == 10 and day.day <= 5):
            f[d] *= 1.25
        if (day.month, day.day) in {(11, 11), (12, 12), (6, 18)}:
            f[d] *= 1.4
    return f


@dataclass(frozen=True)
class ChainSpec:
    """Size of the generated chain; the defaults are the bench's chain year."""

    stores: int = 3
    products: int = 2000
    members: int = 20000
    days: int = 365
    lines: int = 1_000_000
    start: date = date(2025, 1, 1)
    member_share: float = 0.62
    churn_share: float = 0.3
    promo_share: float = 0.05  # products on promotion in any week


@dataclass
class ChainYear:
    """The generated record as polars frames (money in fen)."""

    seed: int
    spec: ChainSpec
    stores: pl.DataFrame
    products: pl.DataFrame
    members: pl.DataFrame
    orders: pl.DataFrame
    lines: pl.DataFrame
    promotions: pl.DataFrame = field(default_factory=pl.DataFrame)


def ean13(body12: np.ndarray) -> list[str]:
    """EAN-13 codes (with check digit) for 12-digit integer bodies."""
    out = []
    for b in body12:
        s = f"{int(b):012d}"
        total = sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(s))
        out.append(s + str((10 - total % 10) % 10))
    return out


def _products(rng: np.random.Generator, spec: ChainSpec) -> pl.DataFrame:
    n = spec.products
    cat_weight = rng.dirichlet(np.full(len(CATEGORIES), 4.0))
    cat = rng.choice(len(CATEGORIES), size=n, p=cat_weight)
    cat[: len(CATEGORIES)] = np.arange(min(n, len(CATEGORIES)))  # every category present
    median = np.array(CATEGORY_PRICE)[cat]
    price = np.maximum(100, np.round(median * rng.lognormal(0, 0.45, n) / 10) * 10).astype(int)
    # Popularity: heavy-tailed, so most items sell daily and a long tail is intermittent.
    pop = rng.lognormal(0, 1.5, n)
    barcodes = ean13(690000000000 + rng.choice(10**8, size=n, replace=False))
    return pl.DataFrame({
        "product_id": [f"P{i:05d}" for i in range(n)],
        "barcode": barcodes,
        "name_zh": [f"{CATEGORIES[c]}商品{i}" for i, c in enumerate(cat)],
        "category": [CATEGORIES[c] for c in cat],
        "cat_idx": cat.astype(np.int32),
        "list_price": price.astype(np.int64),
        "popularity": pop,
    })


def _members(rng: np.random.Generator, spec: ChainSpec) -> pl.DataFrame:
    n, days = spec.members, spec.days
    signup = np.minimum(days - 1, (rng.beta(1, 2.5, n) * days * 1.2).astype(int))
    signup[rng.random(n) < 0.5] = 0  # half were members before the year began
    churner = rng.random(n) < spec.churn_share
    churn_day = np.where(churner, signup + rng.integers(20, max(21, days), n), days + 9999)
    rate = rng.gamma(1.3, 1.0, n)  # relative visit rate: a few loyal regulars, many occasional
    return pl.DataFrame({
        "member_id": [f"M{i:06d}" for i in range(n)],
        "signup_day": signup.astype(np.int32),
        "churn_day": churn_day.astype(np.int32),
        "churner": churner,
        "visit_rate": rate,
        "home_store": rng.integers(0, spec.stores, n).astype(np.int32),
        "promo_affinity": rng.beta(1.5, 6, n),
        "fav_category": rng.integers(0, len(CATEGORIES), n).astype(np.int32),
        "age_band": rng.choice(["18-24", "25-34", "35-44", "45-54", "55+"], n,
                               p=[0.12, 0.33, 0.27, 0.16, 0.12]),
        "gender": rng.choice(["F", "M", "U"], n, p=[0.56, 0.38, 0.06]),
        "region": rng.choice(["浦东", "徐汇", "闵行", "静安", "杨浦"], n),
    })


def generate(seed: int | None = None, spec: ChainSpec | None = None) -> ChainYear:
    """Draw a chain year from ``seed`` (a fresh one when ``None``; read it from the result)."""
    spec = spec or ChainSpec()
    if seed is None:
        seed = int(np.random.SeedSequence().generate_state(1)[0])  # fresh, 32 bits
    rng = np.random.default_rng(seed)
    products = _products(rng, spec)
    members = _members(rng, spec)
    days = spec.days
    dates = [spec.start + timedelta(days=d) for d in range(days)]
    dow = np.array([d.weekday() for d in dates])
    doy = np.array([d.timetuple().tm_yday for d in dates])

    # --- orders per store and day: weekly x yearly x holidays x store size, Poisson noise
    avg_lines = 1 + 2.6  # lines per order: 1 + Poisson(2.6)
    per_day = spec.lines / avg_lines / days
    store_w = np.array([1.0, 0.75, 0.55, 0.45, 0.35][: spec.stores] + [0.3] * max(0, spec.stores - 5))
    store_w = store_w / store_w.sum()
    trend = 1 + 0.1 * np.arange(days) / days
    level = np.array(WEEKLY)[dow] * holiday_factors(spec.start, days) * trend
    level = level / level.mean() * per_day
    n_sd = rng.poisson(np.outer(store_w, level))  # stores x days
    store_of = np.repeat(np.repeat(np.arange(spec.stores), days), n_sd.ravel())
    day_of = np.repeat(np.tile(np.arange(days), spec.stores), n_sd.ravel())
    n_orders = len(day_of)
    weekend = dow[day_of] >= 5
    hour = np.where(weekend,
                    rng.choice(24, n_orders, p=HOUR_WEEKEND / HOUR_WEEKEND.sum()),
                    rng.choice(24, n_orders, p=HOUR_WEEKDAY / HOUR_WEEKDAY.sum()))
    minute = rng.integers(0, 3600, n_orders)

    # --- members: picked by visit rate, home store preferred; churned/not-yet members -> guests
    m_rate = members["visit_rate"].to_numpy()
    m_home = members["home_store"].to_numpy()
    is_member = rng.random(n_orders) < spec.member_share
    member = np.full(n_orders, -1)
    for s in range(spec.stores):
        w = m_rate * np.where(m_home == s, 6.0, 1.0)
        cdf = np.cumsum(w) / w.sum()
        idx = np.nonzero(is_member & (store_of == s))[0]
        member[idx] = np.minimum(np.searchsorted(cdf, rng.random(len(idx))), len(cdf) - 1)
    has = member >= 0
    signup = members["signup_day"].to_numpy()
    churn = members["churn_day"].to_numpy()
    active = has & (signup[np.maximum(member, 0)] <= day_of) & (churn[np.maximum(member, 0)] > day_of)
    member = np.where(active, member, -1)
    # Make the churners' lapse visible: members stop at their churn day (above); guests
    # stay guests.

    # --- lines: category by season (and member taste), product by popularity or promotion
    n_lines_per = 1 + rng.poisson(avg_lines - 1, n_orders)
    order_of = np.repeat(np.arange(n_orders), n_lines_per)
    n_lines = len(order_of)
    line_no = np.arange(n_lines) - np.repeat(np.cumsum(n_lines_per) - n_lines_per, n_lines_per) + 1
    lday = day_of[order_of]
    cat_idx = products["cat_idx"].to_numpy()
    pop = products["popularity"].to_numpy()
    n_cat = len(CATEGORIES)
    cat_share = np.array([pop[cat_idx == c].sum() for c in range(n_cat)])
    season = np.array([1 + amp * np.cos(2 * np.pi * (doy - peak) / 365.25)
                       for peak, amp in CATEGORY_SEASON]).T  # days x cats
    sf_boost = holiday_factors(spec.start, days) > 1.3  # new-year shopping: liquor, snacks
    season[sf_boost, CATEGORIES.index("酒类")] *= 1.8
    season[sf_boost, CATEGORIES.index("零食")] *= 1.3
    p = season * cat_share
    cdf = np.cumsum(p / p.sum(1, keepdims=True), axis=1)
    u = rng.random(n_lines)
    lcat = np.minimum((u[:, None] > cdf[lday]).sum(1), n_cat - 1)
    lmem = member[order_of]
    fav = members["fav_category"].to_numpy()
    taste = (lmem >= 0) & (rng.random(n_lines) < 0.25)
    lcat = np.where(taste, fav[np.maximum(lmem, 0)], lcat)
    order_by_cat = np.argsort(cat_idx, kind="stable")
    starts = np.searchsorted(cat_idx[order_by_cat], np.arange(n_cat))
    ends = np.searchsorted(cat_idx[order_by_cat], np.arange(n_cat), side="right")
    cum_pop = np.zeros(len(pop))
    for c in range(n_cat):
        seg = order_by_cat[starts[c]:ends[c]]
        cum_pop[starts[c]:ends[c]] = np.cumsum(pop[seg]) / pop[seg].sum()
    pick = np.empty(n_lines, dtype=np.int64)
    r = rng.random(n_lines)
    for c in range(n_cat):
        idx = np.nonzero(lcat == c)[0]
        pos = np.searchsorted(cum_pop[starts[c]:ends[c]], r[idx])
        pick[idx] = order_by_cat[starts[c] + np.minimum(pos, ends[c] - starts[c] - 1)]

    # Promotions: a fresh set of products each week, 10-30 % off; promoted items sell more,
    # and members with promotion affinity pick them more often still.
    weeks = (days + 6) // 7
    n_promo = max(1, int(spec.products * spec.promo_share))
    promo_sets = np.stack([rng.choice(spec.products, n_promo, replace=False) for _ in range(weeks)])
    promo_pct = rng.choice([0.1, 0.15, 0.2, 0.3], size=(weeks, n_promo))
    affinity = members["promo_affinity"].to_numpy()
    p_promo = np.where(lmem >= 0, affinity[np.maximum(lmem, 0)], 0.1) * 0.7
    take = rng.random(n_lines) < p_promo
    lweek = lday // 7
    pick = np.where(take, promo_sets[lweek, rng.integers(0, n_promo, n_lines)], pick)
    on_promo = np.zeros((weeks, spec.products))
    np.put_along_axis(on_promo, promo_sets, promo_pct, axis=1)
    pct = on_promo[lweek, pick]

    qty = 1 + rng.geometric(0.75, n_lines) - 1
    unit = products["list_price"].to_numpy()[pick]
    gross = qty * unit
    discount = np.round(gross * pct).astype(np.int64)
    amount = gross - discount

    # --- orders: totals from lines, tenders, timestamps
    subtotal = np.bincount(order_of, weights=gross, minlength=n_orders).astype(np.int64)
    disc_total = np.bincount(order_of, weights=discount, minlength=n_orders).astype(np.int64)
    total = subtotal - disc_total
    method = rng.choice(len(METHODS), n_orders, p=METHOD_SHARE)
    method = np.where((method == METHODS.index("stored_value")) & (member < 0), 0, method)
    local = (np.array(dates, dtype="datetime64[D]")[day_of].astype("datetime64[ms]")
             + ((hour * 3600 + minute) * 1000).astype("timedelta64[ms]"))
    created = local - np.timedelta64(8, "h")  # Asia/Shanghai -> UTC
    store_names = [f"S{i + 1}" for i in range(spec.stores)]
    member_ids = members["member_id"].to_numpy()
    orders = pl.DataFrame({
        "order_idx": np.arange(n_orders, dtype=np.int64),
        "store": np.array(store_names)[store_of],
        "business_date": np.array(dates, dtype="datetime64[D]")[day_of],
        "hour": hour.astype(np.int8),
        "created_at": created,
        "member_id": pl.Series(member_ids.astype(str)).gather(np.maximum(member, 0)),
        "subtotal": subtotal,
        "discount_total": disc_total,
        "total": total,
        "method": np.array(METHODS)[method],
    }).with_columns(pl.when(pl.Series(member >= 0)).then(pl.col("member_id")).alias("member_id"),
                    pl.col("created_at").dt.replace_time_zone("UTC"),
                    pl.col("business_date").cast(pl.Date))
    orders = orders.with_columns(
        (pl.col("store") + "-" + pl.col("order_idx").cast(pl.Utf8).str.zfill(7)).alias("order_no"))
    pid = products["product_id"].to_numpy()
    lines = pl.DataFrame({
        "order_idx": order_of.astype(np.int64),
        "line_no": line_no.astype(np.int32),
        "product_id": pid[pick],
        "qty": qty.astype(np.int64),
        "unit_price": unit.astype(np.int64),
        "discount": discount,
        "amount": amount.astype(np.int64),
    })
    promos = pl.DataFrame({
        "week": np.repeat(np.arange(weeks), n_promo).astype(np.int32),
        "product_id": pid[promo_sets.ravel()],
        "pct": promo_pct.ravel(),
    })
    stores = pl.DataFrame({"store": store_names, "weight": store_w})
    return ChainYear(seed, spec, stores, products.drop("cat_idx"), members, orders, lines, promos)
