"""Supply alerts with a state (open -> acknowledged -> resolved): stock (below reorder
point, stockout, overstock by days of cover, near expiry) and supplier risks.

A scan raises what is true now and resolves (as ``system``) what no longer is; an alert
still true is updated, never duplicated, and a resolved one reopens as a new alert.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Literal, TypedDict, get_args

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge.errors import Conflict, InvalidRequest, NotFound
from cloud_bridge.models import Stock, now
from common.jsontypes import JsonObject

from .demand import demand_by_product
from .models import SHELF, Lot, ReorderRule, Supplier, SupplyAlert, SupplyProduct
from .policy import reorder_point

OPEN, ACKNOWLEDGED, RESOLVED = "open", "acknowledged", "resolved"
AlertState = Literal["open", "acknowledged", "resolved"]
STATES: tuple[AlertState, ...] = get_args(AlertState)
StockKind = Literal["below_reorder_point", "stockout", "overstock", "near_expiry"]
RiskKind = Literal["qualification_expiring", "contract_renewal", "otif_low", "single_source",
                   "price_rise", "late_delivery"]
AlertKind = Literal[StockKind, RiskKind]
STOCK_KINDS: tuple[StockKind, ...] = get_args(StockKind)
RISK_KINDS: tuple[RiskKind, ...] = get_args(RiskKind)
KINDS: tuple[AlertKind, ...] = STOCK_KINDS + RISK_KINDS
ALLOWED = {OPEN: (ACKNOWLEDGED, RESOLVED), ACKNOWLEDGED: (RESOLVED,), RESOLVED: ()}
NEAR_EXPIRY_DAYS = 3  # default warning window when a product sets none


class Finding(TypedDict, total=False):
    """What a scan found for one alert: its detail and what it is about."""

    detail: JsonObject
    product_id: str | None
    supplier_id: str | None


async def raise_alerts(session: AsyncSession, kinds: tuple[str, ...], store: str | None,
                       found: dict[tuple[str, str], Finding]) -> list[SupplyAlert]:
    """Make the live alerts of ``kinds`` (at ``store``) exactly ``found``.

    ``found`` maps (kind, subject) to the alert's fields (``detail``, ``product_id``, ...).
    """
    q = select(SupplyAlert).where(SupplyAlert.kind.in_(kinds), SupplyAlert.state != RESOLVED)
    q = q.where(SupplyAlert.store.is_(None) if store is None else SupplyAlert.store == store)
    live = {(a.kind, a.subject): a for a in (await session.scalars(q.with_for_update())).all()}
    at, out = now(), []
    for key, gone in live.items():
        if key not in found:
            gone.state, gone.updated_at, gone.updated_by = RESOLVED, at, "system"
    for (kind, subject), fields in found.items():
        alert = live.get((kind, subject))
        if alert is None:
            alert = SupplyAlert(kind=kind, store=store, subject=subject, state=OPEN,
                                created_at=at, updated_at=at, detail={})
            session.add(alert)
        alert.detail = fields.get("detail", {})
        alert.product_id = fields.get("product_id")
        alert.supplier_id = fields.get("supplier_id")
        out.append(alert)
    await session.flush()
    return out


async def scan_stock_alerts(session: AsyncSession, store: str, today: date, *,
                            tz: str = "Asia/Shanghai",
                            near_expiry_days: int = NEAR_EXPIRY_DAYS) -> list[SupplyAlert]:
    """Stock alerts of one store as of ``today``."""
    rules = {r.product_id: r for r in (await session.scalars(
        select(ReorderRule).where(ReorderRule.store == store))).all()}
    stock = {s.product_id: s.on_hand for s in (await session.scalars(
        select(Stock).where(Stock.store == store))).all()}
    demand = await demand_by_product(session, store, today, tz=tz)
    suppliers = {s.id: s for s in (await session.scalars(select(Supplier))).all()}
    found: dict[tuple[str, str], Finding] = {}
    for product_id in sorted(set(rules) | set(stock)):
        on_hand = stock.get(product_id, 0)
        rule = rules.get(product_id)
        d = demand.get(product_id)
        if on_hand <= 0 and (rule is not None or product_id in stock):
            found[("stockout", product_id)] = {"product_id": product_id,
                                               "detail": {"on_hand": on_hand}}
            continue
        if rule is not None:
            sup = suppliers.get(rule.supplier_id or "")
            lead = rule.lead_time_days or (sup.lead_time_days if sup else 1)
            ss, rop = reorder_point(d.mean if d else 0.0, d.sigma if d else 0.0, lead,
                                    rule.service_z)
            rop = max(rop, float(rule.min_qty))
            if on_hand <= rop:
                found[("below_reorder_point", product_id)] = {
                    "product_id": product_id,
                    "detail": {"on_hand": on_hand, "reorder_point": round(rop, 2),
                               "safety_stock": round(ss, 2)}}
            if d and d.mean > 0 and on_hand / d.mean > rule.overstock_days:
                found[("overstock", product_id)] = {
                    "product_id": product_id,
                    "detail": {"on_hand": on_hand, "days_of_cover": round(on_hand / d.mean, 1),
                               "limit_days": rule.overstock_days}}
    products = {p.product_id: p for p in (await session.scalars(select(SupplyProduct))).all()}
    lots = (await session.scalars(select(Lot).where(
        Lot.store == store, Lot.location == SHELF, Lot.qty > 0,
        Lot.expiry_date.is_not(None)))).all()
    for lot in lots:
        expiry = lot.expiry_date
        if expiry is None:  # excluded by the query; narrows the type
            continue
        p = products.get(lot.product_id)
        window = p.near_expiry_days if p and p.near_expiry_days is not None else near_expiry_days
        if expiry <= today + timedelta(days=window):
            found[("near_expiry", f"{lot.product_id}:{lot.lot_no}")] = {
                "product_id": lot.product_id,
                "detail": {"lot_no": lot.lot_no, "qty": lot.qty,
                           "expiry_date": expiry.isoformat(),
                           "days_left": (expiry - today).days,
                           "expired": expiry < today}}
    return await raise_alerts(session, STOCK_KINDS, store, found)


async def set_alert_state(session: AsyncSession, alert_id: int, state: str,
                          actor: str) -> SupplyAlert:
    """Acknowledge or resolve an alert; a resolved alert stays resolved."""
    if state not in (ACKNOWLEDGED, RESOLVED):
        raise InvalidRequest("state must be acknowledged or resolved")
    alert = await session.get(SupplyAlert, alert_id, with_for_update=True)
    if alert is None:
        raise NotFound(f"alert {alert_id} not found")
    if state not in ALLOWED[alert.state]:
        raise Conflict(f"alert {alert_id} is {alert.state}; it cannot become {state}")
    alert.state, alert.updated_at, alert.updated_by = state, now(), actor
    return alert


async def list_alerts(session: AsyncSession, *, store: str | None, chain_wide: bool,
                      state: str | None, kind: str | None, limit: int,
                      offset: int) -> list[SupplyAlert]:
    """Alerts visible to a caller: a store's own, plus chain-wide ones for chain users."""
    q = select(SupplyAlert).order_by(SupplyAlert.id.desc()).limit(limit).offset(offset)
    if store is not None:
        q = q.where(SupplyAlert.store == store)
    elif not chain_wide:
        raise InvalidRequest("a store is needed")
    if state is not None:
        q = q.where(SupplyAlert.state == state)
    if kind is not None:
        q = q.where(SupplyAlert.kind == kind)
    return list((await session.scalars(q)).all())
