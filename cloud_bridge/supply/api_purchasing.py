"""Supply API, purchasing: orders and their moves, receipts with inspection, bills and
payment, returns to suppliers, shipments and expected arrivals, daily proposals."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge import auth
from cloud_bridge.errors import Forbidden, NotFound
from cloud_bridge.openapi import Call, Route
from common.jsontypes import JsonObject

from . import deliveries as D
from . import purchasing as PO
from . import receiving as R
from . import responses as RS
from . import schemas as S
from . import settings as settings_store
from .api_stock import INT
from .api_support import (
    BILL_ROLES,
    BUYER_ROLES,
    PAY_ROLES,
    STOCK_ROLES,
    db,
    page,
    parse_day,
    parse_time,
    today,
    visible_store,
)
from .models_purchasing import GoodsReceipt, PurchaseOrder, SupplierBill
from .replenish import propose_orders

P = "/api/v1/admin/supply"
T = "supply"


async def _po_json(s: AsyncSession, po: PurchaseOrder) -> JsonObject:
    return PO.po_json(po, await PO.po_lines(s, po.id))


async def _visible_po(s: AsyncSession, call: Call, lock: bool = False) -> PurchaseOrder:
    po = await PO.get_po(s, int(call.path["po_id"]), lock=lock)
    visible_store(call, po.store)
    return po


def bill_json(b: SupplierBill) -> JsonObject:
    return {"id": b.id, "po_id": b.po_id, "supplier_id": b.supplier_id, "bill_no": b.bill_no,
            "amount_fen": b.amount_fen, "vat_fen": b.vat_fen, "status": b.status,
            "problems": b.match.get("problems", []),
            "paid_at": b.paid_at.isoformat() if b.paid_at else None}


async def create_po(call: Call) -> JsonObject:
    """A purchase order in ``proposal`` (priced from the contract or the price list)."""
    b = call.body_as(S.SupplyPoBody)
    call.principal.check_store(b.store)
    async with db(call).session() as s:
        cfg = await settings_store.load(s)
        po = await PO.create_po(s, store=b.store, supplier_id=b.supplier_id,
                                lines=[(ln.product_id, ln.qty) for ln in b.lines],
                                actor=call.principal.actor, today=today(cfg))
        return await _po_json(s, po)


async def list_pos(call: Call) -> JsonObject:
    q = call.query_as(S.SupplyPoQuery)
    store = call.principal.store_scope(q.store)
    stmt = select(PurchaseOrder).order_by(PurchaseOrder.id.desc()).limit(
        page(call, q.limit)).offset(q.offset)
    if store is not None:
        stmt = stmt.where(PurchaseOrder.store == store)
    if q.status is not None:
        stmt = stmt.where(PurchaseOrder.status == q.status)
    async with db(call).session() as s:
        return {"items": [await _po_json(s, po) for po in (await s.scalars(stmt)).all()]}


async def get_po(call: Call) -> JsonObject:
    async with db(call).session() as s:
        return await _po_json(s, await _visible_po(s, call))


async def po_action(call: Call) -> JsonObject:
    """Move an order: rfq, approve (head office above the limit), send, cancel, close_short."""
    b, who = call.body_as(S.SupplyPoActionBody), call.principal
    async with db(call).session() as s:
        po = await _visible_po(s, call, lock=True)
        if who.role == auth.STORE_STAFF and b.action != "cancel":
            raise Forbidden("store staff may only cancel their store's orders")
        cfg = await settings_store.load(s)
        day, reason = today(cfg), b.reason or b.action
        if b.action == "rfq":
            po = await PO.request_quote(s, po.id, who.actor)
        elif b.action == "approve":
            po = await PO.approve(s, po.id, who, cfg, day)
        elif b.action == "send":
            po = await PO.send(s, po.id, who.actor, day)
        elif b.action == "cancel":
            po = await PO.cancel(s, po.id, who.actor, reason)
        else:
            po = await PO.close_short(s, po.id, who.actor, reason)
        return await _po_json(s, po)


async def record_quote(call: Call) -> JsonObject:
    """The supplier's quoted prices for an order in ``rfq``."""
    async with db(call).session() as s:
        po = await _visible_po(s, call, lock=True)
        prices = {p.product_id: p.unit_cost_fen for p in call.body_as(S.SupplyQuoteBody).prices}
        return await _po_json(s, await PO.record_quote(s, po.id, prices, call.principal.actor))


async def receive(call: Call) -> JsonObject:
    """Receive a delivery: lots with expiry, each inspected (GB/T 2828.1) and accepted or not."""
    async with db(call).session() as s:
        po = await _visible_po(s, call, lock=True)
        cfg = await settings_store.load(s)
        lots = [R.ReceivedLot(x.product_id, x.lot_no,
                              parse_day(x.expiry_date) if x.expiry_date else None, x.qty,
                              x.defects) for x in call.body_as(S.SupplyReceiptBody).lots]
        gr = await R.receive(s, po.id, lots, actor=call.principal.actor, settings=cfg,
                             today=today(cfg))
        return {"id": gr.id, "po_id": gr.po_id, "store": gr.store,
                "supplier_id": gr.supplier_id, "on_time": gr.on_time, "in_full": gr.in_full,
                "lead_time_days": gr.lead_time_days, "lines": gr.lines, "po_status": po.status}


async def record_bill(call: Call) -> JsonObject:
    """A supplier bill, three-way matched against the order and what was accepted."""
    b = call.body_as(S.SupplyBillBody)
    async with db(call).session() as s:
        po = await _visible_po(s, call, lock=True)
        cfg = await settings_store.load(s)
        bill = await R.record_bill(s, po.id, bill_no=b.bill_no, vat_fen=b.vat_fen,
                                   lines=[(x.product_id, x.qty, x.unit_cost_fen)
                                          for x in b.lines], settings=cfg)
        return bill_json(bill)


async def pay_bill(call: Call) -> JsonObject:
    """Pay a matched bill (posted to the ledger); a mismatched bill is refused."""
    bid = int(call.path["bill_id"])
    async with db(call).session() as s:
        bill = await s.get(SupplierBill, bid)
        if bill is None:
            raise NotFound(f"bill {bid} not found")
        po = await PO.get_po(s, bill.po_id)
        visible_store(call, po.store)
        return bill_json(await R.pay_bill(s, bid, call.principal.actor))


async def return_goods(call: Call) -> JsonObject:
    """Return accepted units of a receipt's lots to the supplier, with the reason."""
    rid = int(call.path["receipt_id"])
    b = call.body_as(S.SupplyReturnBody)
    async with db(call).session() as s:
        gr = await s.get(GoodsReceipt, rid)
        if gr is None:
            raise NotFound(f"receipt {rid} not found")
        visible_store(call, gr.store)
        ret = await R.return_to_supplier(
            s, rid, lines=[(x.product_id, x.lot_no, x.qty) for x in b.lines],
            reason=b.reason, actor=call.principal.actor)
        return {"id": ret.id, "receipt_id": ret.receipt_id, "supplier_id": ret.supplier_id,
                "store": ret.store, "reason": ret.reason, "credit_fen": ret.credit_fen,
                "lines": ret.lines}


async def add_shipment(call: Call) -> JsonObject:
    """An inbound shipment of an order: carrier, tracking number, expected arrival."""
    b = call.body_as(S.SupplyShipmentBody)
    async with db(call).session() as s:
        po = await _visible_po(s, call)
        sh = await D.add_shipment(s, po.id, carrier=b.carrier, tracking_no=b.tracking_no,
                                  expected_at=parse_time(b.expected_at))
        return D.shipment_json(sh)


async def update_shipment(call: Call) -> JsonObject:
    """A shipment's new status (and expected arrival)."""
    from .models_purchasing import Shipment

    sid = int(call.path["shipment_id"])
    b = call.body_as(S.SupplyShipmentUpdateBody)
    async with db(call).session() as s:
        sh = await s.get(Shipment, sid)
        if sh is None:
            raise NotFound(f"shipment {sid} not found")
        visible_store(call, sh.store)
        sh = await D.update_shipment(
            s, sid, status=b.status,
            expected_at=parse_time(b.expected_at) if b.expected_at else None)
        return D.shipment_json(sh)


async def arrivals(call: Call) -> JsonObject:
    """What a store expects to arrive: open orders and their shipments."""
    store = call.principal.store_scope(call.query_as(S.SupplyStoreQuery).store)
    async with db(call).session() as s:
        return {"items": await D.expected_arrivals(s, store)}


async def run_proposals(call: Call) -> JsonObject:
    """The store's replenishment proposals for a day, grouped by supplier (once a day)."""
    store = call.path["store"]
    call.principal.check_store(store)
    async with db(call).session() as s:
        cfg = await settings_store.load(s)
        day = today(cfg, call.body_as(S.SupplyDayBody).date)
        ids, created = await propose_orders(s, store, day, tz=cfg.timezone)
        pos = [await _po_json(s, await PO.get_po(s, i)) for i in ids]
    return {"store": store, "date": day.isoformat(), "created": created,
            "purchase_orders": pos}


ROUTES = [
    Route("POST", f"{P}/purchase-orders", create_po, "Create a purchase order", T,
          auth="admin", body=S.SupplyPoBody, status=201, response=RS.SupplyPoOut, roles=STOCK_ROLES),
    Route("GET", f"{P}/purchase-orders", list_pos, "Purchase orders", T, auth="admin",
          query=S.SupplyPoQuery, response=RS.SupplyPoList, roles=(*STOCK_ROLES, auth.FINANCE)),
    Route("GET", f"{P}/purchase-orders/{{po_id}}", get_po, "A purchase order", T,
          auth="admin", response=RS.SupplyPoOut, roles=(*STOCK_ROLES, auth.FINANCE),
          path_params={"po_id": INT}),
    Route("POST", f"{P}/purchase-orders/{{po_id}}/actions", po_action,
          "Move a purchase order (rfq, approve, send, cancel, close_short)", T, auth="admin",
          body=S.SupplyPoActionBody, response=RS.SupplyPoOut, roles=STOCK_ROLES,
          path_params={"po_id": INT}),
    Route("POST", f"{P}/purchase-orders/{{po_id}}/quote", record_quote,
          "Record the supplier's quote", T, auth="admin", body=S.SupplyQuoteBody, response=RS.SupplyPoOut,
          roles=BUYER_ROLES, path_params={"po_id": INT}),
    Route("POST", f"{P}/purchase-orders/{{po_id}}/receipts", receive,
          "Receive and inspect a delivery", T, auth="admin", body=S.SupplyReceiptBody, status=201,
          response=RS.SupplyReceiptOut, roles=STOCK_ROLES, path_params={"po_id": INT}),
    Route("POST", f"{P}/purchase-orders/{{po_id}}/bills", record_bill,
          "Record a supplier bill (three-way match)", T, auth="admin", body=S.SupplyBillBody,
          status=201, response=RS.SupplyBillOut, roles=BILL_ROLES, path_params={"po_id": INT}),
    Route("POST", f"{P}/bills/{{bill_id}}/pay", pay_bill, "Pay a matched supplier bill", T,
          auth="admin", response=RS.SupplyBillOut, roles=PAY_ROLES, path_params={"bill_id": INT}),
    Route("POST", f"{P}/receipts/{{receipt_id}}/returns", return_goods,
          "Return goods to the supplier", T, auth="admin", body=S.SupplyReturnBody, status=201,
          response=RS.SupplyReturnOut, roles=STOCK_ROLES, path_params={"receipt_id": INT}),
    Route("POST", f"{P}/purchase-orders/{{po_id}}/shipments", add_shipment,
          "Add an inbound shipment", T, auth="admin", body=S.SupplyShipmentBody, status=201,
          response=RS.SupplyShipmentOut, roles=STOCK_ROLES, path_params={"po_id": INT}),
    Route("PUT", f"{P}/shipments/{{shipment_id}}", update_shipment, "Update a shipment", T,
          auth="admin", body=S.SupplyShipmentUpdateBody, response=RS.SupplyShipmentOut, roles=STOCK_ROLES,
          path_params={"shipment_id": INT}),
    Route("GET", f"{P}/arrivals", arrivals, "Expected arrivals", T, auth="admin",
          query=S.SupplyStoreQuery, response=RS.SupplyArrivalList, roles=STOCK_ROLES),
    Route("POST", f"{P}/stores/{{store}}/proposals", run_proposals,
          "Run the day's replenishment proposals", T, auth="admin", body=S.SupplyDayBody,
          response=RS.SupplyProposalOut, roles=BUYER_ROLES),
]
