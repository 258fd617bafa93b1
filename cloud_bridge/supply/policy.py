"""Replenishment arithmetic, pure (no database): the same code runs in the daily job and in
``bench/replenish.py``.

* Demand: a weekday-seasonal forecast from daily history; its error ``sigma`` is the
  standard deviation of the residuals (what the forecast misses on a day).
* Safety stock ``SS = z * sigma * sqrt(L)`` and reorder point ``ROP = d * L + SS`` for a
  lead time ``L`` in days; lead-time variability adds ``d^2 * var(L)`` when known.
* Economic order quantity ``EOQ = sqrt(2 * D * S / H)`` (annual demand ``D``, ordering
  cost ``S``, holding cost per unit and year ``H``) where the ordering cost is set.
* Perishables: never order more than can be sold before the lot expires.
* Lots on hand (when known): units the forecast cannot sell before their expiry are not
  counted as stock (they will be thrown away), and a new perishable lot is sized by what
  it sells after the older lots, which go first (FEFO), until its own expiry.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

SEASON = 7  # days: the weekly rhythm of a supermarket


@dataclass(frozen=True, slots=True)
class Demand:
    """Forecast daily demand: ``mean`` per day, ``sigma`` its daily error, ``weekday`` factors."""

    mean: float
    sigma: float
    weekday: tuple[float, ...] = (1.0,) * SEASON

    def over(self, start_weekday: int, days: int, uplift: Sequence[float] = ()) -> float:
        """Expected demand over ``days`` from ``start_weekday`` (0 = the first history day)."""
        total = 0.0
        for i in range(days):
            u = uplift[i] if i < len(uplift) else 1.0
            total += self.mean * self.weekday[(start_weekday + i) % SEASON] * u
        return total


def estimate_demand(history: Sequence[float], *, promo: Sequence[bool] = (),
                    promo_uplift: float | None = None) -> Demand:
    """Weekday-seasonal mean and residual error of a daily sales history (oldest first).

    Days flagged in ``promo`` are left out of the base estimate (their sales are lifted
    by the promotion), so the base rate is not inflated by last week's offer.
    """
    days = [(i, float(q)) for i, q in enumerate(history)
            if not (i < len(promo) and promo[i])]
    if not days:
        return Demand(0.0, 0.0)
    mean = sum(q for _, q in days) / len(days)
    if mean <= 0:
        return Demand(0.0, 0.0)
    buckets: list[list[float]] = [[] for _ in range(SEASON)]
    for i, q in days:
        buckets[i % SEASON].append(q)
    # Shrink each weekday's factor toward 1 by its sample size (few weeks: noisy factors).
    factors = []
    for b in buckets:
        if not b:
            factors.append(1.0)
            continue
        raw = (sum(b) / len(b)) / mean
        w = len(b) / (len(b) + 2)
        factors.append(w * raw + (1 - w) * 1.0)
    norm = sum(factors) / SEASON
    factors = [f / norm for f in factors]
    residuals = [q - mean * factors[i % SEASON] for i, q in days]
    dof = max(1, len(residuals) - 1)
    sigma = math.sqrt(sum(r * r for r in residuals) / dof)
    return Demand(mean, sigma, tuple(factors))


def safety_stock(sigma: float, lead_days: float, z: float, *, demand: float = 0.0,
                 lead_std: float = 0.0) -> float:
    """``z * sqrt(L * sigma^2 + d^2 * var(L))``; with a fixed lead time ``z * sigma * sqrt(L)``."""
    return z * math.sqrt(max(lead_days, 0.0) * sigma**2 + (demand * lead_std) ** 2)


def reorder_point(demand: float, sigma: float, lead_days: float, z: float,
                  lead_std: float = 0.0) -> tuple[float, float]:
    """``(SS, ROP)`` with ``ROP = d * L + SS``."""
    ss = safety_stock(sigma, lead_days, z, demand=demand, lead_std=lead_std)
    return ss, demand * lead_days + ss


def service_z(underage: float, overage: float, *, low: float = 0.5,
              high: float = 2.5) -> float:
    """Safety factor from the newsvendor critical ratio ``Cu / (Cu + Co)``.

    ``underage``: what a unit short costs (lost margin and goodwill); ``overage``: what a
    unit too many costs (its spoilage for a perishable, a cycle's holding otherwise).
    Clipped to ``[low, high]``: the floor keeps about 70% cycle service even for fresh
    goods whose margin is thin (an empty fresh shelf sends shoppers elsewhere for more
    than the one item), and above ~99.4% the normal model says little.
    """
    if underage <= 0:
        return low
    if overage <= 0:
        return high
    ratio = underage / (underage + overage)
    return max(low, min(high, NormalDist().inv_cdf(min(max(ratio, 1e-6), 1 - 1e-6))))


def eoq(annual_demand: float, ordering_cost: float, holding_per_unit_year: float) -> float:
    """Economic order quantity; 0 when demand or holding cost is 0."""
    if annual_demand <= 0 or holding_per_unit_year <= 0 or ordering_cost <= 0:
        return 0.0
    return math.sqrt(2 * annual_demand * ordering_cost / holding_per_unit_year)


@dataclass(frozen=True, slots=True)
class RuleInputs:
    """What the policy needs for one store and product on one day."""

    demand: Demand
    lead_days: float
    lead_std: float = 0.0
    z: float = 1.65
    review_days: int = 1  # proposals run daily
    multiple: int = 1  # pack size / order multiple
    min_qty: int = 0
    max_qty: int = 0  # 0: no cap
    ordering_cost: float = 0.0  # fen per order line
    holding_per_unit_day: float = 0.0  # fen
    shelf_life_days: int | None = None
    weekday: int = 0  # weekday index of today relative to the history's first day
    uplift: Sequence[float] = ()  # known promotion multipliers from today on
    # On-hand lots as (selling days left counting today, units); empty: not known.
    lots: Sequence[tuple[int, float]] = ()


# Lots that keep longer than this are not walked day by day: a replenishment decision
# looks a few lead times ahead, and a year-long walk per product per day is waste.
RUN_DOWN_HORIZON = 60


def run_down(demand: Demand, start_weekday: int, lots: Sequence[Sequence[float]],
             days: int, uplift: Sequence[float] = ()) -> tuple[float, list[list[float]]]:
    """Sell the forecast from ``lots`` first-expiring-first for ``days`` days.

    ``lots`` are ``(selling days left, units)``. Returns the units expected to expire
    unsold within those days and the lots left after them as ``[days left, units]``.
    """
    left = sorted([[float(k), float(q)] for k, q in lots if q > 0])
    waste = 0.0
    for i in range(days):
        while left and left[0][0] <= i:  # its last selling day has passed
            waste += left.pop(0)[1]
        if not left:
            break
        u = uplift[i] if i < len(uplift) else 1.0
        want = demand.mean * demand.weekday[(start_weekday + i) % SEASON] * u
        while want > 0 and left:
            take = min(want, left[0][1])
            left[0][1] -= take
            want -= take
            if left[0][1] <= 0:
                left.pop(0)
    waste += sum(q for k, q in left if k <= days)  # last selling day within the days
    left = [[k - days, q] for k, q in left if k > days]
    return waste, left


def expected_waste(inputs: RuleInputs) -> float:
    """Units of the on-hand lots the forecast does not sell before they expire."""
    near = [(k, q) for k, q in inputs.lots if k <= RUN_DOWN_HORIZON]
    if not near:
        return 0.0
    horizon = int(max(k for k, _ in near))
    waste, _ = run_down(inputs.demand, inputs.weekday, near, horizon, inputs.uplift)
    return waste


def fresh_lot_sales(inputs: RuleInputs, on_order: float, arrival: int) -> float:
    """What a new lot arriving on day ``arrival`` sells before it expires (forecast).

    The lots on hand (and what is on order, taken to arrive before it) are sold first:
    they expire earlier, and shelves are worked first-expiring-first.
    """
    shelf = max(1, (inputs.shelf_life_days or 1) - 1)
    older = list(inputs.lots)
    if on_order > 0:
        older.append((arrival + shelf - 1, on_order))
    d, day0 = inputs.demand, inputs.weekday
    _, left = run_down(d, day0, older, arrival, inputs.uplift)
    window = d.over(day0 + arrival, shelf, inputs.uplift[arrival:])
    # What the older lots still sell in the new lot's window is not the new lot's.
    waste, after = run_down(d, day0 + arrival, left, shelf, inputs.uplift[arrival:])
    older_sold = sum(q for _, q in left) - sum(q for _, q in after) - waste
    return max(0.0, window - older_sold)


@dataclass(frozen=True, slots=True)
class Proposal:
    qty: int
    rop: float
    safety_stock: float
    target: float
    eoq: float


def propose(inputs: RuleInputs, position: float) -> Proposal:
    """How much to order today given the inventory ``position`` (on hand + on order).

    Order when the position is at or below the reorder point (demand over lead time plus
    review period, plus safety stock), up to that point plus a cycle quantity (EOQ when an
    ordering cost is set, else the review period's demand), rounded up to the multiple.
    """
    d = inputs.demand
    on_order = position - sum(q for _, q in inputs.lots)
    if inputs.lots:
        position -= expected_waste(inputs)
    cover = inputs.lead_days + inputs.review_days
    expected = d.over(inputs.weekday, math.ceil(cover), inputs.uplift)
    ss = safety_stock(d.sigma, cover, inputs.z, demand=d.mean, lead_std=inputs.lead_std)
    rop = max(expected + ss, float(inputs.min_qty))
    if position > rop or (d.mean <= 0 and position > inputs.min_qty):
        return Proposal(0, rop, ss, rop, 0.0)
    q_eoq = eoq(d.mean * 365, inputs.ordering_cost, inputs.holding_per_unit_day * 365)
    cycle = max(q_eoq, d.mean * inputs.review_days)
    target = rop + cycle
    if inputs.shelf_life_days is not None:
        # Perishable: one order must sell before it expires (a day of margin).
        lead = math.ceil(inputs.lead_days)
        if inputs.lots:
            sellable = fresh_lot_sales(inputs, on_order, lead)
        else:
            sellable = d.over(inputs.weekday + lead, max(1, inputs.shelf_life_days - 1),
                              inputs.uplift[lead:])
        target = max(min(target, position + sellable), expected)
    if inputs.max_qty:
        target = min(target, float(inputs.max_qty))
    qty = max(0.0, target - position)
    m = max(1, inputs.multiple)
    units = math.ceil(qty / m) * m if qty > 0 else 0
    return Proposal(int(units), rop, ss, target, q_eoq)
