"""Suppliers, their qualifications and products, contracts with price lists and fulfilment."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge.errors import Conflict, InvalidRequest, NotFound
from cloud_bridge.models import now
from common.jsontypes import JsonObject

from .models import (
    Contract,
    ContractPrice,
    Qualification,
    Supplier,
    SupplierProduct,
    SupplyProduct,
)
from .models_purchasing import GoodsReceipt, PurchaseOrder


async def get_supplier(session: AsyncSession, supplier_id: str) -> Supplier:
    sup = await session.get(Supplier, supplier_id)
    if sup is None:
        raise NotFound(f"supplier {supplier_id} not found")
    return sup


async def upsert_supplier(session: AsyncSession, *, supplier_id: str, name: str,
                          lead_time_days: int, payment_terms_days: int,
                          contact: str | None, active: bool = True) -> Supplier:
    sup = await session.get(Supplier, supplier_id, with_for_update=True)
    if sup is None:
        sup = Supplier(id=supplier_id, created_at=now())
        session.add(sup)
    sup.name, sup.lead_time_days, sup.payment_terms_days = name, lead_time_days, payment_terms_days
    sup.contact, sup.active = contact, active
    await session.flush()
    return sup


async def set_qualification(session: AsyncSession, *, supplier_id: str, kind: str,
                            number: str, expires_on: date) -> Qualification:
    """Record (or renew) a licence; one per kind and supplier."""
    await get_supplier(session, supplier_id)
    q = await session.scalar(select(Qualification).where(
        Qualification.supplier_id == supplier_id, Qualification.kind == kind))
    if q is None:
        q = Qualification(supplier_id=supplier_id, kind=kind)
        session.add(q)
    q.number, q.expires_on = number, expires_on
    await session.flush()
    return q


async def set_supplier_product(session: AsyncSession, *, supplier_id: str, product_id: str,
                               cost_fen: int, pack_size: int) -> SupplierProduct:
    """A product this supplier delivers; a new price keeps the old one (price-rise risk)."""
    await get_supplier(session, supplier_id)
    if cost_fen < 0 or pack_size < 1:
        raise InvalidRequest("cost must be >= 0 and pack size >= 1")
    sp = await session.get(SupplierProduct, (supplier_id, product_id), with_for_update=True)
    if sp is None:
        sp = SupplierProduct(supplier_id=supplier_id, product_id=product_id, cost_fen=cost_fen,
                             previous_cost_fen=None)
        session.add(sp)
    elif sp.cost_fen != cost_fen:
        sp.previous_cost_fen, sp.cost_fen = sp.cost_fen, cost_fen
    sp.pack_size, sp.updated_at = pack_size, now()
    await session.flush()
    return sp


async def upsert_product(session: AsyncSession, *, product_id: str, name_zh: str,
                         name_en: str | None = None, category: str | None = None,
                         shelf_life_days: int | None = None,
                         near_expiry_days: int | None = None,
                         vat_rate_bp: int = 1300) -> SupplyProduct:
    p = await session.get(SupplyProduct, product_id, with_for_update=True)
    if p is None:
        p = SupplyProduct(product_id=product_id)
        session.add(p)
    p.name_zh, p.name_en, p.category = name_zh, name_en, category
    p.shelf_life_days, p.near_expiry_days, p.vat_rate_bp = (shelf_life_days, near_expiry_days,
                                                            vat_rate_bp)
    p.updated_at = now()
    await session.flush()
    return p


async def add_contract(session: AsyncSession, *, supplier_id: str, number: str, terms: str,
                       starts_on: date, ends_on: date, renewal_notice_days: int,
                       prices: list[ContractPrice]) -> Contract:
    """A contract with its price list: ``[{product_id, price_fen, committed_qty}]``."""
    await get_supplier(session, supplier_id)
    if ends_on < starts_on:
        raise InvalidRequest("a contract ends after it starts")
    if len({p["product_id"] for p in prices}) != len(prices):
        raise InvalidRequest("a product appears twice in the price list")
    if await session.scalar(select(Contract.id).where(Contract.number == number)):
        raise Conflict(f"contract {number} exists")
    c = Contract(supplier_id=supplier_id, number=number, terms=terms, starts_on=starts_on,
                 ends_on=ends_on, renewal_notice_days=renewal_notice_days, prices=prices,
                 created_at=now())
    session.add(c)
    await session.flush()
    return c


async def contract_for(session: AsyncSession, supplier_id: str, on: date) -> Contract | None:
    """The supplier's contract valid on ``on`` (the latest started, if several)."""
    return await session.scalar(
        select(Contract).where(Contract.supplier_id == supplier_id, Contract.starts_on <= on,
                               Contract.ends_on >= on)
        .order_by(Contract.starts_on.desc(), Contract.id.desc()).limit(1))


async def contract_fulfilment(session: AsyncSession, contract_id: int) -> JsonObject:
    """Per product: committed volume vs accepted volume, contract price vs prices received."""
    c = await session.get(Contract, contract_id)
    if c is None:
        raise NotFound(f"contract {contract_id} not found")
    receipts = (await session.scalars(
        select(GoodsReceipt).join(PurchaseOrder, PurchaseOrder.id == GoodsReceipt.po_id)
        .where(PurchaseOrder.contract_id == c.id))).all()
    got: dict[str, list[int]] = {}
    for r in receipts:
        for ln in r.lines:
            acc = got.setdefault(ln["product_id"], [0, 0])
            acc[0] += ln["accepted"]
            acc[1] += ln["accepted"] * ln["unit_cost_fen"]
    lines = []
    for p in c.prices:
        qty, value = got.get(p["product_id"], [0, 0])
        committed = int(p.get("committed_qty") or 0)
        lines.append({
            "product_id": p["product_id"], "price_fen": p["price_fen"],
            "committed_qty": committed, "received_qty": qty,
            "fulfilment": round(qty / committed, 4) if committed else None,
            "average_price_fen": round(value / qty) if qty else None,
        })
    return {"contract_id": c.id, "number": c.number, "supplier_id": c.supplier_id,
            "starts_on": c.starts_on.isoformat(), "ends_on": c.ends_on.isoformat(),
            "lines": lines}
