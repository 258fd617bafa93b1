"""Supplier scorecards from real receipts and the supply risk warnings.

Scorecard: on-time rate (received on or before the expected day), in-full rate (the
receipt brought everything outstanding, accepted), OTIF (both), defect rate (defects
found / units sampled in inspections), lead time mean and standard deviation (days from
sending the order to receiving).
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import TypedDict

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from . import purchasing as P
from .alerts import RISK_KINDS, Finding, raise_alerts
from .models import Contract, Qualification, ReorderRule, Supplier, SupplierProduct, SupplyAlert
from .models_purchasing import GoodsReceipt, PurchaseOrder
from .settings import SupplySettings


def _rate(hits: int, n: int) -> float | None:
    return round(hits / n, 4) if n else None


class Scorecard(TypedDict):
    """A supplier's delivery record: OTIF, defects found at receipt, lead times."""

    supplier_id: str
    receipts: int
    on_time_rate: float | None
    in_full_rate: float | None
    otif_rate: float | None
    defect_rate: float | None
    units_sampled: int
    lead_time_mean_days: float | None
    lead_time_std_days: float | None


async def scorecard(session: AsyncSession, supplier_id: str) -> Scorecard:
    receipts = (await session.scalars(select(GoodsReceipt).where(
        GoodsReceipt.supplier_id == supplier_id))).all()
    n = len(receipts)
    on_time = sum(1 for r in receipts if r.on_time)
    in_full = sum(1 for r in receipts if r.in_full)
    otif = sum(1 for r in receipts if r.on_time and r.in_full)
    sampled = defects = 0
    for r in receipts:
        for ln in r.lines:
            sampled += ln["inspection"]["sample_size"]
            defects += ln["inspection"]["defects"]
    leads = [r.lead_time_days for r in receipts if r.lead_time_days is not None]
    mean = sum(leads) / len(leads) if leads else None
    std = (math.sqrt(sum((x - mean) ** 2 for x in leads) / (len(leads) - 1))
           if len(leads) > 1 and mean is not None else None)
    return {"supplier_id": supplier_id, "receipts": n, "on_time_rate": _rate(on_time, n),
            "in_full_rate": _rate(in_full, n), "otif_rate": _rate(otif, n),
            "defect_rate": _rate(defects, sampled), "units_sampled": sampled,
            "lead_time_mean_days": round(mean, 3) if mean is not None else None,
            "lead_time_std_days": round(std, 3) if std is not None else None}


async def scan_risks(session: AsyncSession, today: date,
                     settings: SupplySettings) -> list[SupplyAlert]:
    """Chain-wide supplier risks, plus late deliveries per store."""
    found: dict[tuple[str, str], Finding] = {}
    horizon = today + timedelta(days=settings.qualification_warning_days)
    for q in (await session.scalars(select(Qualification).where(
            Qualification.expires_on <= horizon))).all():
        found[("qualification_expiring", f"{q.supplier_id}:{q.kind}")] = {
            "supplier_id": q.supplier_id,
            "detail": {"kind": q.kind, "number": q.number,
                       "expires_on": q.expires_on.isoformat(),
                       "days_left": (q.expires_on - today).days}}
    for c in (await session.scalars(select(Contract).where(Contract.ends_on >= today))).all():
        if c.ends_on <= today + timedelta(days=c.renewal_notice_days):
            found[("contract_renewal", c.number)] = {
                "supplier_id": c.supplier_id,
                "detail": {"contract_id": c.id, "ends_on": c.ends_on.isoformat(),
                           "days_left": (c.ends_on - today).days}}
    for sup in (await session.scalars(select(Supplier).where(Supplier.active))).all():
        card = await scorecard(session, sup.id)
        otif = card["otif_rate"]  # None only without receipts (otif_min_receipts >= 1)
        if (card["receipts"] >= settings.otif_min_receipts
                and otif is not None and otif < settings.otif_threshold):
            found[("otif_low", sup.id)] = {"supplier_id": sup.id,
                                           "detail": {"otif_rate": otif,
                                                      "threshold": settings.otif_threshold,
                                                      "receipts": card["receipts"]}}
    counts = dict((await session.execute(
        select(SupplierProduct.product_id, func.count()).group_by(
            SupplierProduct.product_id))).tuples().all())
    replenished = set((await session.scalars(select(ReorderRule.product_id))).all())
    for product_id in sorted(replenished | set(counts)):
        if counts.get(product_id, 0) == 1:
            sole = await session.scalar(select(SupplierProduct.supplier_id).where(
                SupplierProduct.product_id == product_id))
            found[("single_source", product_id)] = {"supplier_id": sole,
                                                    "product_id": product_id,
                                                    "detail": {"supplier_id": sole}}
    for sp in (await session.scalars(select(SupplierProduct).where(
            SupplierProduct.previous_cost_fen.is_not(None)))).all():
        old = sp.previous_cost_fen or 0
        if old > 0 and (sp.cost_fen - old) * 10000 > old * settings.price_rise_threshold_bp:
            found[("price_rise", f"{sp.supplier_id}:{sp.product_id}")] = {
                "supplier_id": sp.supplier_id, "product_id": sp.product_id,
                "detail": {"from_fen": old, "to_fen": sp.cost_fen,
                           "rise_bp": (sp.cost_fen - old) * 10000 // old}}
    out = await raise_alerts(session, tuple(k for k in RISK_KINDS if k != "late_delivery"),
                             None, found)
    late: dict[str, dict[tuple[str, str], Finding]] = {}
    for po in (await session.scalars(select(PurchaseOrder).where(
            PurchaseOrder.status.in_((P.SENT, P.PARTIALLY_RECEIVED)),
            PurchaseOrder.expected_on < today))).all():
        if po.expected_on is None:  # excluded by the query; narrows the type
            continue
        late.setdefault(po.store, {})[("late_delivery", f"po:{po.id}")] = {
            "supplier_id": po.supplier_id,
            "detail": {"po_id": po.id, "expected_on": po.expected_on.isoformat(),
                       "days_late": (today - po.expected_on).days}}
    stores = set(late) | set((await session.scalars(select(PurchaseOrder.store).distinct())).all())
    for store in sorted(stores):
        out += await raise_alerts(session, ("late_delivery",), store, late.get(store, {}))
    return out
