"""Daily replenishment proposals: per store, each reorder rule through the policy
(:mod:`cloud_bridge.supply.policy`), grouped by supplier into draft purchase orders.

Idempotent per store and day (a :class:`ProposalRun` row), so the job may run on every
worker and after a crash: the second run returns the first run's orders.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge import inventory
from cloud_bridge.db import get_row
from cloud_bridge.models import Stock, now

from . import purchasing as P
from .demand import HISTORY_DAYS, demand_by_product
from .models import SHELF, Lot, ReorderRule, Supplier, SupplierProduct, SupplyProduct
from .models_purchasing import ProposalRun, PurchaseOrder, PurchaseOrderLine
from .policy import Demand, RuleInputs, propose
from .risk import scorecard

log = logging.getLogger(__name__)
ACTOR = "system:replenishment"


async def on_order(session: AsyncSession, store: str) -> dict[str, int]:
    """Units ordered and not yet accepted, per product, on the store's open orders."""
    rows = await session.execute(
        select(PurchaseOrderLine.product_id,
               func.sum(PurchaseOrderLine.qty - PurchaseOrderLine.qty_accepted))
        .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.po_id)
        .where(PurchaseOrder.store == store, PurchaseOrder.status.in_(P.OPEN_STATUSES))
        .group_by(PurchaseOrderLine.product_id))
    return {p: int(q or 0) for p, q in rows.all()}


# A lot without an expiry date keeps beyond any horizon the policy looks at.
NO_EXPIRY_DAYS = 10**6


async def shelf_lots(session: AsyncSession, store: str,
                     today: date) -> dict[str, list[tuple[int, float]]]:
    """The store's shelf lots per product as (selling days left counting today, units):
    a lot is sold through its expiry date."""
    out: dict[str, list[tuple[int, float]]] = defaultdict(list)
    rows = await session.execute(select(Lot.product_id, Lot.expiry_date, Lot.qty).where(
        Lot.store == store, Lot.location == SHELF, Lot.qty > 0))
    for product_id, expiry, qty in rows.all():
        days = (expiry - today).days + 1 if expiry is not None else NO_EXPIRY_DAYS
        out[product_id].append((max(0, days), float(qty)))
    return out


async def propose_orders(session: AsyncSession, store: str, today: date, *,
                         tz: str = "Asia/Shanghai") -> tuple[list[int], bool]:
    """Draft purchase orders (status ``proposal``) for ``store`` on ``today``.

    Returns ``(po_ids, created)``: ``created`` is False when the day already had its run.
    """
    stmt = inventory.dialect_insert(session, ProposalRun).values(
        store=store, day=today, po_ids=[], created_at=now())
    stmt = stmt.on_conflict_do_nothing(index_elements=[ProposalRun.store, ProposalRun.day])
    if not (await session.execute(stmt.returning(ProposalRun.store))).first():
        run = await get_row(session, ProposalRun, (store, today))
        return list(run.po_ids), False
    rules = (await session.scalars(select(ReorderRule).where(ReorderRule.store == store)
                                   .order_by(ReorderRule.product_id))).all()
    demand = await demand_by_product(session, store, today, tz=tz)
    stock = {s.product_id: s.on_hand for s in (await session.scalars(
        select(Stock).where(Stock.store == store))).all()}
    ordered = await on_order(session, store)
    lots = await shelf_lots(session, store, today)
    suppliers = {s.id: s for s in (await session.scalars(select(Supplier))).all()}
    offers: dict[str, list[SupplierProduct]] = defaultdict(list)
    for sp in (await session.scalars(select(SupplierProduct))).all():
        offers[sp.product_id].append(sp)
    lead_std: dict[str, float] = {}
    groups: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for rule in rules:
        choices = [o for o in offers.get(rule.product_id, [])
                   if rule.supplier_id in (None, o.supplier_id)
                   and suppliers.get(o.supplier_id) and suppliers[o.supplier_id].active]
        if not choices:
            log.warning("no active supplier for %s at %s: not proposed", rule.product_id, store)
            continue
        offer = min(choices, key=lambda o: (o.cost_fen, o.supplier_id))
        sup = suppliers[offer.supplier_id]
        if sup.id not in lead_std:
            lead_std[sup.id] = (await scorecard(session, sup.id))["lead_time_std_days"] or 0.0
        product = await session.get(SupplyProduct, rule.product_id)
        multiple = math.lcm(max(1, rule.multiple), max(1, offer.pack_size))
        inputs = RuleInputs(
            demand=demand.get(rule.product_id, Demand(0.0, 0.0)),
            lead_days=float(rule.lead_time_days or sup.lead_time_days),
            lead_std=lead_std[sup.id], z=rule.service_z, multiple=multiple,
            min_qty=int(rule.min_qty), max_qty=int(rule.max_qty),
            ordering_cost=float(rule.ordering_cost_fen or 0),
            holding_per_unit_day=offer.cost_fen * rule.holding_rate_per_year / 365,
            shelf_life_days=product.shelf_life_days if product else None,
            weekday=HISTORY_DAYS % 7, lots=lots.get(rule.product_id, ()))
        position = stock.get(rule.product_id, 0) + ordered.get(rule.product_id, 0)
        proposal = propose(inputs, position)
        if proposal.qty > 0:
            groups[sup.id].append((rule.product_id, proposal.qty))
    ids = []
    for supplier_id in sorted(groups):
        po = await P.create_po(session, store=store, supplier_id=supplier_id,
                               lines=groups[supplier_id], actor=ACTOR, today=today,
                               source="replenishment")
        ids.append(po.id)
    run = await get_row(session, ProposalRun, (store, today))
    run.po_ids = ids
    return ids, True
