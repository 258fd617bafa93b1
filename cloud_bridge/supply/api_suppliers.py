"""Supply API, supplier side: suppliers, qualifications, products, contracts, risk scan."""

from __future__ import annotations

from sqlalchemy import select

from cloud_bridge.openapi import Call, Route
from common.jsontypes import JsonObject

from . import responses as RS
from . import risk
from . import schemas as S
from . import settings as settings_store
from . import suppliers as SUP
from .api_stock import INT, alert_json
from .api_support import BUYER_ROLES, db, page, parse_day, today
from .models import ContractPrice, Qualification, Supplier, SupplierProduct
from .receiving import supplier_balance

P = "/api/v1/admin/supply"
T = "supply"


def supplier_json(s: Supplier) -> JsonObject:
    return {"id": s.id, "name": s.name, "lead_time_days": s.lead_time_days,
            "payment_terms_days": s.payment_terms_days, "contact": s.contact,
            "active": s.active}


def offer_json(sp: SupplierProduct) -> JsonObject:
    return {"supplier_id": sp.supplier_id, "product_id": sp.product_id, "cost_fen": sp.cost_fen,
            "pack_size": sp.pack_size, "previous_cost_fen": sp.previous_cost_fen}


async def list_suppliers(call: Call) -> JsonObject:
    q = call.query_as(S.SupplyStoreQuery)
    async with db(call).session() as s:
        rows = (await s.scalars(select(Supplier).order_by(Supplier.id)
                                .limit(page(call, q.limit)).offset(q.offset))).all()
    return {"items": [supplier_json(r) for r in rows]}


async def put_supplier(call: Call) -> JsonObject:
    """Create or change a supplier (lead time, payment terms, contact)."""
    b = call.body_as(S.SupplySupplierBody)
    async with db(call).session() as s:
        sup = await SUP.upsert_supplier(s, supplier_id=call.path["supplier_id"], name=b.name,
                                        lead_time_days=b.lead_time_days,
                                        payment_terms_days=b.payment_terms_days,
                                        contact=b.contact, active=b.active)
        return supplier_json(sup)


async def get_supplier(call: Call) -> JsonObject:
    """A supplier with its licences, products, scorecard and account balance."""
    sid = call.path["supplier_id"]
    async with db(call).session() as s:
        sup = await SUP.get_supplier(s, sid)
        quals = (await s.scalars(select(Qualification).where(
            Qualification.supplier_id == sid).order_by(Qualification.kind))).all()
        offers = (await s.scalars(select(SupplierProduct).where(
            SupplierProduct.supplier_id == sid).order_by(SupplierProduct.product_id))).all()
        card = await risk.scorecard(s, sid)
        balance = await supplier_balance(s, sid)
    return {**supplier_json(sup),
            "qualifications": [{"kind": q.kind, "number": q.number,
                                "expires_on": q.expires_on.isoformat()} for q in quals],
            "products": [offer_json(o) for o in offers], "scorecard": card,
            "balance_fen": balance}


async def put_qualification(call: Call) -> JsonObject:
    """Record or renew a supplier licence (营业执照, 食品经营许可证, ...) with its expiry."""
    b = call.body_as(S.SupplyQualificationBody)
    async with db(call).session() as s:
        q = await SUP.set_qualification(s, supplier_id=call.path["supplier_id"],
                                        kind=call.path["kind"], number=b.number,
                                        expires_on=parse_day(b.expires_on))
        return {"kind": q.kind, "number": q.number, "expires_on": q.expires_on.isoformat()}


async def put_offer(call: Call) -> JsonObject:
    """A product the supplier delivers: cost price (fen, excl. VAT) and pack size."""
    b = call.body_as(S.SupplySupplierProductBody)
    async with db(call).session() as s:
        sp = await SUP.set_supplier_product(s, supplier_id=call.path["supplier_id"],
                                            product_id=call.path["product_id"],
                                            cost_fen=b.cost_fen,
                                            pack_size=b.pack_size)
        return offer_json(sp)


async def add_contract(call: Call) -> JsonObject:
    """A contract with its terms, validity and price list."""
    b = call.body_as(S.SupplyContractBody)
    async with db(call).session() as s:
        c = await SUP.add_contract(s, supplier_id=b.supplier_id, number=b.number, terms=b.terms,
                                   starts_on=parse_day(b.starts_on),
                                   ends_on=parse_day(b.ends_on),
                                   renewal_notice_days=b.renewal_notice_days,
                                   prices=[ContractPrice(product_id=p.product_id,
                                                         price_fen=p.price_fen,
                                                         committed_qty=p.committed_qty)
                                           for p in b.prices])
        return await SUP.contract_fulfilment(s, c.id)


async def get_contract(call: Call) -> JsonObject:
    """A contract and its fulfilment: volumes received vs committed, prices paid."""
    async with db(call).session() as s:
        return await SUP.contract_fulfilment(s, int(call.path["contract_id"]))


async def scan_risks(call: Call) -> JsonObject:
    """Check supplier risks now: licences, contracts, OTIF, single source, prices, lateness."""
    async with db(call).session() as s:
        cfg = await settings_store.load(s)
        found = await risk.scan_risks(s, today(cfg, call.body_as(S.SupplyDayBody).date), cfg)
        return {"items": [alert_json(a) for a in found]}


ROUTES = [
    Route("GET", f"{P}/suppliers", list_suppliers, "Suppliers", T, auth="admin",
          query=S.SupplyStoreQuery, response=RS.SupplySupplierList, roles=BUYER_ROLES),
    Route("PUT", f"{P}/suppliers/{{supplier_id}}", put_supplier, "Create or change a supplier",
          T, auth="admin", body=S.SupplySupplierBody, response=RS.SupplySupplierOut, roles=BUYER_ROLES),
    Route("GET", f"{P}/suppliers/{{supplier_id}}", get_supplier,
          "A supplier with licences, products, scorecard, balance", T, auth="admin",
          response=RS.SupplySupplierDetail, roles=BUYER_ROLES),
    Route("PUT", f"{P}/suppliers/{{supplier_id}}/qualifications/{{kind}}", put_qualification,
          "Record a supplier licence", T, auth="admin", body=S.SupplyQualificationBody,
          response=RS.SupplyQualificationOut, roles=BUYER_ROLES),
    Route("PUT", f"{P}/suppliers/{{supplier_id}}/products/{{product_id}}", put_offer,
          "Set a supplied product's cost and pack size", T, auth="admin",
          body=S.SupplySupplierProductBody, response=RS.SupplySupplierProductOut, roles=BUYER_ROLES),
    Route("POST", f"{P}/contracts", add_contract, "Add a supply contract", T, auth="admin",
          body=S.SupplyContractBody, status=201, response=RS.SupplyContractOut, roles=BUYER_ROLES),
    Route("GET", f"{P}/contracts/{{contract_id}}", get_contract, "A contract's fulfilment", T,
          auth="admin", response=RS.SupplyContractOut, roles=BUYER_ROLES,
          path_params={"contract_id": INT}),
    Route("POST", f"{P}/risks/scan", scan_risks, "Scan supplier risks", T, auth="admin",
          body=S.SupplyDayBody, response=RS.SupplyAlertList, roles=BUYER_ROLES),
]
