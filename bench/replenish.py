"""Replenishment: the supply domain's policy vs a naive fixed reorder rule, same demand.

Run: ``.venv/bin/python bench/replenish.py [--seed N] [--days 91] [--products 200]``

The world (generated fresh each run from a printed seed, the same for both policies):
3 stores of different sizes (x0.7, x1.0, x1.4), 200 products of a supermarket, a quarter
(91 days) of daily demand after 8 weeks of history:

* fast movers (daily mean 8-40 units, negative-binomial noise), slow movers (0.5-4 a day,
  Poisson) and intermittent items (a sale on 8-30% of days, 1-4 units when it happens);
* weekly seasonality: a per-product weekend lift of 10-70% on Saturday and Sunday
  (Friday half that);
* promotions: 30% of products run one or two 7-day offers in the quarter, lifting demand
  1.5-3x; the offers are planned in advance (a store knows its own promotion calendar);
* perishables: 30% of products (fresh milk, bread, produce, chilled) with a shelf life of
  2-10 days from delivery; the rest keep 180-720 days;
* suppliers: a nominal lead time of 1-4 days, the real one late by a day with probability
  0.2 and by two or three days with probability 0.08; pack sizes 1, 6, 12 or 24.

Each day per store and product: deliveries arrive, demand is served first-expiring-first
(unmet demand is lost: shoppers do not wait), expired units are thrown away, then the
policy reviews the inventory position (on hand + on order) and may order.

Cost model (fen; what each policy is charged):

* holding: 25% of the unit cost per year for each unit on hand at the end of a day
  (capital, space, shrink);
* ordering: 1000 fen (10 yuan) per order line placed (buying, receiving, checking);
* stockout: each unit of lost demand costs its gross margin plus half of it again as
  goodwill (the shopper who found an empty shelf buys less next time);
* spoilage: each expired unit costs its unit cost plus 10% for disposal.

Policies:

* naive: a fixed min/max rule set once from the history's average daily sales: reorder
  when the position falls to the demand over the nominal lead time plus 3 days, up to
  that plus 7 days of demand (perishables: plus half their shelf life instead), in packs;
* project: ``cloud_bridge.supply.policy.propose`` every day with a weekday-seasonal
  forecast re-estimated weekly from the last 8 weeks of its own sales (promotion days left
  out of the base rate), the supplier's stated lead time with safety stock for the forecast
  error and for the spread of the lead times it has observed, the promotion calendar, EOQ
  with the ordering and holding costs above, the shelf-life cap for perishables, the lots
  on hand with their days left (units the forecast cannot sell before they expire do not
  count as stock, and a fresh lot is sized by what it sells after the older lots, until
  its own expiry), and a service factor per product from the cost model (``policy.service_z``: the newsvendor
  critical ratio of a unit short vs a unit spoiled or held a week, floored at z = 0.5).

Printed: stockout rate (share of store-product-days with lost demand), fill rate (units
sold / units demanded), average inventory days (average stock / average daily sales),
spoilage (units and fen), the cost split, and last ``replenish_ratio=`` = the project's
total cost / the naive rule's (goal <= 0.8 at an equal or better fill rate).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cloud_bridge.supply.policy import (  # noqa: E402
    Demand,
    RuleInputs,
    estimate_demand,
    propose,
    service_z,
)

HISTORY = 56
STORES = (0.7, 1.0, 1.4)
HOLDING_RATE_YEAR = 0.25
ORDER_LINE_FEN = 1000
GOODWILL = 0.5
DISPOSAL = 0.10


@dataclass
class Product:
    kind: str  # fast | slow | intermittent
    base: float  # mean daily demand at a x1.0 store on a plain weekday
    weekend: float
    shelf_life: int | None
    cost: int  # fen
    price: int
    pack: int
    lead: int  # nominal days
    promo: np.ndarray = field(default_factory=lambda: np.ones(0))  # uplift per day


def make_world(rng: np.random.Generator, n_products: int, days: int) -> list[Product]:
    total = HISTORY + days + 30
    out = []
    for _ in range(n_products):
        kind = rng.choice(["fast", "slow", "intermittent"], p=[0.3, 0.45, 0.25])
        base = {"fast": rng.uniform(8, 40), "slow": rng.uniform(0.5, 4),
                "intermittent": rng.uniform(0.08, 0.3)}[kind]
        perishable = rng.random() < 0.3 and kind != "intermittent"
        cost = int(rng.uniform(150, 4000))
        promo = np.ones(total)
        if rng.random() < 0.3:
            for _ in range(rng.integers(1, 3)):
                start = int(rng.integers(HISTORY, HISTORY + days - 7))
                promo[start:start + 7] = rng.uniform(1.5, 3.0)
        out.append(Product(
            kind=kind, base=base, weekend=rng.uniform(0.1, 0.7),
            shelf_life=int(rng.integers(2, 11)) if perishable else int(rng.integers(180, 721)),
            cost=cost, price=int(cost * rng.uniform(1.2, 1.6)),
            pack=int(rng.choice([1, 6, 12, 24], p=[0.4, 0.3, 0.2, 0.1])) if kind == "fast"
            else int(rng.choice([1, 6], p=[0.8, 0.2])),
            lead=int(rng.integers(1, 5)), promo=promo))
    return out


def demand_series(rng: np.random.Generator, p: Product, scale: float, n: int) -> np.ndarray:
    day = np.arange(n)
    dow = day % 7  # 5, 6: weekend; 4: Friday
    season = 1 + p.weekend * np.where(dow >= 5, 1.0, np.where(dow == 4, 0.5, 0.0))
    mean = p.base * scale * season * p.promo[:n]
    if p.kind == "intermittent":
        hit = rng.random(n) < np.clip(mean * 0.9 + 0.05, 0.08, 0.3)
        return np.where(hit, rng.integers(1, 5, n), 0)
    if p.kind == "fast":  # negative binomial: overdispersed, as real daily sales are
        r = 6.0
        return rng.negative_binomial(r, r / (r + mean))
    return rng.poisson(mean)


def lead_time(rng: np.random.Generator, nominal: int) -> int:
    u = rng.random()
    return nominal + (1 if u < 0.2 else int(rng.integers(2, 4)) if u < 0.28 else 0)


@dataclass
class Outcome:
    demand: int = 0
    sold: int = 0
    lost_days: int = 0
    days: int = 0
    stock_sum: int = 0
    spoiled: int = 0
    holding: float = 0.0
    ordering: float = 0.0
    stockout: float = 0.0
    spoilage: float = 0.0
    lines: int = 0

    @property
    def total(self) -> float:
        return self.holding + self.ordering + self.stockout + self.spoilage


def naive_rule(p: Product, history: np.ndarray):
    avg = float(history.mean())
    # Fresh goods get a shorter buffer: a store does not keep 3 days of 2-day milk.
    safety = 3 if p.shelf_life > 30 else max(1, p.shelf_life // 2)
    low = math.ceil(avg * (p.lead + safety))
    extra = 7 if p.shelf_life > 30 else max(1, p.shelf_life // 2)
    high = low + math.ceil(avg * extra)

    def decide(t, position, sales, promo, seen_leads, lots=()):
        if position > low:
            return 0
        return math.ceil(max(0, high - position) / p.pack) * p.pack
    return decide


def project_rule(p: Product):
    holding_day = p.cost * HOLDING_RATE_YEAR / 365
    last: dict[str, Demand] = {}
    # The service level the cost model asks for: a unit short loses margin and goodwill;
    # a unit too many spoils (perishables) or waits a week on the shelf.
    underage = (p.price - p.cost) * (1 + GOODWILL)
    overage = (p.cost * (1 + DISPOSAL) if p.shelf_life <= 30 else holding_day * 7)
    z = service_z(underage, overage)

    def decide(t, position, sales, promo, seen_leads, lots=()):
        if t % 7 == 0 or "d" not in last:  # re-estimate weekly (a forecast job's rhythm)
            last["d"] = estimate_demand(sales, promo=[f > 1 for f in promo[:len(sales)]])
        leads = list(seen_leads) or [p.lead]
        mean_l = p.lead  # the supplier's stated lead time, as the daily job uses
        if len(leads) > 1:  # sample std by hand: np.std and statistics.stdev were the
            mean_seen = sum(leads) / len(leads)  # bench's top costs on 12 integers
            std_l = math.sqrt(sum((x - mean_seen) ** 2 for x in leads) / (len(leads) - 1))
        else:
            std_l = 0.5
        inputs = RuleInputs(
            demand=last["d"], lead_days=mean_l, lead_std=std_l, z=z, review_days=1,
            multiple=p.pack, ordering_cost=ORDER_LINE_FEN, holding_per_unit_day=holding_day,
            shelf_life_days=p.shelf_life if p.shelf_life <= 30 else None,
            weekday=len(sales) % 7, uplift=list(promo[len(sales):]), lots=lots)
        return propose(inputs, position).qty
    return decide


def simulate(products, demands, rng_seed: int, days: int, which: str) -> Outcome:
    out = Outcome()
    rng = np.random.default_rng(rng_seed)  # the same lead-time draws for both policies
    for (pi, _si), dem in demands.items():
        p = products[pi]
        history = dem[:HISTORY]
        decide = (naive_rule(p, history) if which == "naive" else project_rule(p))
        lots: deque[list[int]] = deque()  # [expiry day, qty], FEFO order
        pipeline: list[tuple[int, int]] = []  # (arrival day, qty)
        sales = list(map(float, history))
        seen: deque[int] = deque(maxlen=12)
        start = math.ceil(history.mean() * (p.lead + 3)) + p.pack  # opening stock
        lots.append([HISTORY + min(p.shelf_life, 365), start])
        uplift = p.promo[: HISTORY + days + 30]
        leads = iter(rng.integers(0, 2**31, size=days))
        for t in range(HISTORY, HISTORY + days):
            for arrival, qty in [x for x in pipeline if x[0] == t]:
                lots.append([t + p.shelf_life, qty])
                pipeline.remove((arrival, qty))
            want = int(dem[t])
            left = want
            while left and lots:
                take = min(left, lots[0][1])
                lots[0][1] -= take
                left -= take
                if lots[0][1] == 0:
                    lots.popleft()
            sold = want - left
            out.demand += want
            out.sold += sold
            out.days += 1
            out.lost_days += left > 0
            out.stockout += left * ((p.price - p.cost) * (1 + GOODWILL))
            while lots and lots[0][0] <= t + 1:  # expires before tomorrow's opening
                out.spoiled += lots[0][1]
                out.spoilage += lots[0][1] * p.cost * (1 + DISPOSAL)
                lots.popleft()
            on_hand = sum(q for _, q in lots)
            out.stock_sum += on_hand
            out.holding += on_hand * p.cost * HOLDING_RATE_YEAR / 365
            sales.append(float(sold))
            window = sales[-HISTORY:]
            position = on_hand + sum(q for _, q in pipeline)
            # promo[i] is the offer lift of window day i; promo[len(window):] from tomorrow.
            qty = decide(t - HISTORY, position, window, uplift[t + 1 - len(window):], seen,
                         [(e - t - 1, q) for e, q in lots])
            lead = lead_time(np.random.default_rng(next(leads)), p.lead)
            if qty > 0:
                pipeline.append((t + lead, int(qty)))
                seen.append(lead)
                out.lines += 1
                out.ordering += ORDER_LINE_FEN
    return out


def report(name: str, o: Outcome) -> None:
    fill = o.sold / o.demand if o.demand else 1.0
    inv_days = o.stock_sum / o.sold if o.sold else float("inf")
    print(f"{name}: stockout_rate={o.lost_days / o.days:.4f} fill_rate={fill:.4f} "
          f"avg_inventory_days={inv_days:.2f} spoiled_units={o.spoiled} "
          f"spoilage_fen={o.spoilage:.0f} order_lines={o.lines}")
    print(f"{name}: cost_fen holding={o.holding:.0f} ordering={o.ordering:.0f} "
          f"stockout={o.stockout:.0f} spoilage={o.spoilage:.0f} total={o.total:.0f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--days", type=int, default=91)
    ap.add_argument("--products", type=int, default=200)
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "big")
    print(f"seed={seed} products={args.products} stores={len(STORES)} days={args.days}")
    rng = np.random.default_rng(seed)
    products = make_world(rng, args.products, args.days)
    demands = {(pi, si): demand_series(rng, p, scale, HISTORY + args.days)
               for pi, p in enumerate(products) for si, scale in enumerate(STORES)}
    kinds = {k: sum(1 for p in products if p.kind == k) for k in ("fast", "slow",
                                                                   "intermittent")}
    perishable = sum(1 for p in products if p.shelf_life <= 30)
    promoted = sum(1 for p in products if (p.promo > 1).any())
    print(f"world: {kinds} perishable={perishable} promoted={promoted} "
          f"demand_units={sum(int(d[HISTORY:].sum()) for d in demands.values())}")
    lead_seed = int(rng.integers(0, 2**31))
    naive = simulate(products, demands, lead_seed, args.days, "naive")
    ours = simulate(products, demands, lead_seed, args.days, "project")
    report("naive", naive)
    report("project", ours)
    fill_naive, fill_ours = naive.sold / naive.demand, ours.sold / ours.demand
    print(f"fill_rate_equal_or_better={fill_ours >= fill_naive - 1e-9}")
    print(f"replenish_ratio={ours.total / naive.total:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
