"""Receiving with lots, expiry and ISO 2859-1 inspection; supplier bills, the three-way
match, payments and returns to suppliers. Receipts and payments post to the finance
ledger in the same transaction (:mod:`cloud_bridge.finance.service`, when installed)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge.errors import Conflict, InvalidRequest, NotFound
from cloud_bridge.models import now

from . import purchasing as P
from .aql import SamplingError, single_normal_plan
from .models import SupplyProduct
from .models_purchasing import (
    GoodsReceipt,
    Inspection,
    ReceiptLine,
    ReturnLine,
    SupplierAccountEntry,
    SupplierBill,
    SupplierReturn,
)
from .settings import SupplySettings
from .stock import receive_into_lot, take_from_lots

log = logging.getLogger(__name__)


class SupplierLedger(Protocol):
    """What supply posts to the ledger: the finance domain's service (``finance.service``)."""

    async def post_goods_receipt(
        self, session: AsyncSession, *, store: str, source_id: str, supplier_id: str,
        occurred_at: datetime, lines: list[tuple[str, int, int]], input_vat_fen: int,
    ) -> None: ...

    async def post_supplier_payment(
        self, session: AsyncSession, *, store: str, source_id: str, supplier_id: str,
        occurred_at: datetime, amount_fen: int,
    ) -> None: ...


def finance() -> SupplierLedger | None:
    """The finance domain's service, imported when first needed (absent: nothing posted)."""
    try:
        from cloud_bridge.finance import service
    except ModuleNotFoundError:
        log.warning("cloud_bridge.finance is not installed: receipt/payment not posted")
        return None
    return service


def vat_of(qty: int, unit_cost_fen: int, vat_rate_bp: int) -> int:
    """Input VAT of a line, rounded half up to the fen."""
    return (qty * unit_cost_fen * vat_rate_bp + 5000) // 10000


@dataclass(frozen=True, slots=True)
class ReceivedLot:
    """One lot delivered: ``defects`` found in the inspection sample."""

    product_id: str
    lot_no: str
    expiry_date: date | None
    qty: int
    defects: int = 0


async def receive(session: AsyncSession, po_id: int, lots: list[ReceivedLot], *, actor: str,
                  settings: SupplySettings, today: date,
                  at: datetime | None = None) -> GoodsReceipt:
    """Book a delivery: inspect each lot, stock the accepted ones, post the receipt.

    A lot is inspected with the single sampling plan for normal inspection at the
    configured AQL and level; a rejected lot is refused at the door (recorded, not
    stocked). Receiving more than is outstanding on a line is refused.
    """
    at = at or now()
    po = await P.get_po(session, po_id, lock=True)
    if po.status not in (P.SENT, P.PARTIALLY_RECEIVED):
        raise Conflict(f"purchase order {po_id} is {po.status}: nothing to receive")
    if not lots:
        raise InvalidRequest("a receipt needs lots")
    lines = {ln.product_id: ln for ln in await P.po_lines(session, po_id)}
    outstanding_before = sum(max(0, ln.qty - ln.qty_accepted) for ln in lines.values())
    out: list[ReceiptLine] = []
    for lot in lots:
        ln = lines.get(lot.product_id)
        if ln is None:
            raise InvalidRequest(f"{lot.product_id} is not on purchase order {po_id}")
        if lot.qty < 1:
            raise InvalidRequest("a lot has at least one unit")
        if ln.qty_accepted + lot.qty > ln.qty:
            raise Conflict(f"{lot.product_id}: {lot.qty} more than the "
                           f"{ln.qty - ln.qty_accepted} outstanding")
        product = await session.get(SupplyProduct, lot.product_id)
        if product is not None and product.shelf_life_days and lot.expiry_date is None:
            raise InvalidRequest(f"{lot.product_id} is perishable: give the lot's expiry date")
        if lot.expiry_date is not None and lot.expiry_date < today:
            raise Conflict(f"lot {lot.lot_no} expired on {lot.expiry_date}")
        inspection = _inspect(lot, settings)
        accepted = lot.qty if inspection["decision"] == "accept" else 0
        ln.qty_received += lot.qty
        ln.qty_accepted += accepted
        out.append({"product_id": lot.product_id, "lot_no": lot.lot_no,
                    "expiry_date": lot.expiry_date.isoformat() if lot.expiry_date else None,
                    "qty": lot.qty, "accepted": accepted, "unit_cost_fen": ln.unit_cost_fen,
                    "vat_rate_bp": ln.vat_rate_bp, "inspection": inspection})
    accepted_now = sum(x["accepted"] for x in out)
    lead = (at - po.sent_at).total_seconds() / 86400 if po.sent_at else None
    gr = GoodsReceipt(po_id=po.id, store=po.store, supplier_id=po.supplier_id, lines=out,
                      on_time=po.expected_on is None or today <= po.expected_on,
                      in_full=accepted_now >= outstanding_before, lead_time_days=lead,
                      received_by=actor, received_at=at)
    session.add(gr)
    await session.flush()
    doc = f"GR-{gr.id}"
    for x in out:
        if x["accepted"]:
            await receive_into_lot(
                session, store=po.store, product_id=x["product_id"], lot_no=x["lot_no"],
                expiry_date=date.fromisoformat(x["expiry_date"]) if x["expiry_date"] else None,
                qty=x["accepted"], kind="receipt", doc_type="receipt", doc_id=doc, actor=actor,
                unit_cost_fen=x["unit_cost_fen"])
    done = all(ln.qty_accepted >= ln.qty for ln in lines.values())
    P.move(po, P.RECEIVED if done else P.PARTIALLY_RECEIVED, actor, doc)
    if accepted_now:
        fin = finance()
        if fin is not None:
            await fin.post_goods_receipt(
                session, store=po.store, source_id=doc, supplier_id=po.supplier_id,
                occurred_at=at,
                lines=[(x["product_id"], x["accepted"], x["unit_cost_fen"])
                       for x in out if x["accepted"]],
                input_vat_fen=sum(vat_of(x["accepted"], x["unit_cost_fen"], x["vat_rate_bp"])
                                  for x in out))
    return gr


def _inspect(lot: ReceivedLot, settings: SupplySettings) -> Inspection:
    if lot.qty < 2:  # Table 1 starts at 2 units: a single unit is simply looked at
        decision = "accept" if lot.defects == 0 else "reject"
        return {"aql": settings.aql, "level": settings.inspection_level, "code_letter": None,
                "sample_size": 1, "ac": 0, "re": 1, "defects": lot.defects,
                "decision": decision}
    plan = single_normal_plan(lot.qty, settings.aql, settings.inspection_level)
    try:
        decision = plan.decide(lot.defects)
    except SamplingError as err:
        raise InvalidRequest(f"lot {lot.lot_no}: {err}") from err
    return {"aql": plan.aql, "level": plan.level, "code_letter": plan.code_letter,
            "sample_size": plan.sample_size, "ac": plan.ac, "re": plan.re,
            "defects": lot.defects, "decision": decision}


# --------------------------------------------------------------------------- bills


async def record_bill(session: AsyncSession, po_id: int, *, bill_no: str,
                      lines: list[tuple[str, int, int]], vat_fen: int,
                      settings: SupplySettings) -> SupplierBill:
    """A supplier bill ``(product, qty, unit cost)``: matched against the PO and receipts.

    Three-way match per product: the billed unit price within ``price_tolerance_bp`` of
    the PO's, the billed quantity within ``qty_tolerance`` of what was accepted (net of
    returns), and the VAT within ``amount_tolerance_fen`` of the lines' VAT. A matched
    bill moves the order to ``billed``; a mismatched one is kept with its reasons.
    """
    po = await P.get_po(session, po_id, lock=True)
    if po.status not in (P.RECEIVED, P.PARTIALLY_RECEIVED):
        raise Conflict(f"purchase order {po_id} is {po.status}: not ready to bill")
    if await session.scalar(select(SupplierBill.id).where(
            SupplierBill.po_id == po_id, SupplierBill.status.in_(("matched", "paid")))):
        raise Conflict(f"purchase order {po_id} already has a matched bill")
    if len({p for p, _, _ in lines}) != len(lines):
        raise InvalidRequest("a product appears twice on the bill")
    po_lines = {ln.product_id: ln for ln in await P.po_lines(session, po_id)}
    problems: list[str] = []
    expected_vat = 0
    for product_id, qty, price in lines:
        ln = po_lines.get(product_id)
        if ln is None:
            problems.append(f"{product_id}: not on the order")
            continue
        net = ln.qty_accepted - ln.qty_returned
        if abs(qty - net) > settings.qty_tolerance:
            problems.append(f"{product_id}: billed {qty}, accepted {net}")
        if abs(price - ln.unit_cost_fen) * 10000 > ln.unit_cost_fen * settings.price_tolerance_bp:
            problems.append(f"{product_id}: billed {price} fen, ordered at {ln.unit_cost_fen}")
        expected_vat += vat_of(qty, price, ln.vat_rate_bp)
    for product_id, ln in po_lines.items():
        if ln.qty_accepted - ln.qty_returned > 0 and product_id not in {p for p, _, _ in lines}:
            problems.append(f"{product_id}: received but not billed")
    if abs(vat_fen - expected_vat) > settings.amount_tolerance_fen:
        problems.append(f"VAT {vat_fen} fen, lines say {expected_vat}")
    amount = sum(q * c for _, q, c in lines)
    status = "matched" if not problems else "mismatch"
    bill = SupplierBill(po_id=po_id, supplier_id=po.supplier_id, bill_no=bill_no,
                        lines=[{"product_id": p, "qty": q, "unit_cost_fen": c}
                               for p, q, c in lines],
                        amount_fen=amount, vat_fen=vat_fen, status=status,
                        match={"ok": not problems, "problems": problems}, created_at=now())
    session.add(bill)
    await session.flush()
    if status == "matched":
        if po.status == P.PARTIALLY_RECEIVED:
            P.move(po, P.RECEIVED, "system", "billed for what was received")
        P.move(po, P.BILLED, "system", f"bill {bill_no}")
        session.add(SupplierAccountEntry(supplier_id=po.supplier_id, kind="bill",
                                         amount_fen=amount + vat_fen, doc=f"BILL-{bill.id}",
                                         at=now()))
    return bill


async def pay_bill(session: AsyncSession, bill_id: int, actor: str,
                   at: datetime | None = None) -> SupplierBill:
    """Pay a matched bill (never a mismatched one, never twice); closes the order."""
    at = at or now()
    bill = await session.get(SupplierBill, bill_id, with_for_update=True)
    if bill is None:
        raise NotFound(f"bill {bill_id} not found")
    if bill.status != "matched":
        raise Conflict(f"bill {bill_id} is {bill.status}: only a matched bill may be paid")
    po = await P.get_po(session, bill.po_id, lock=True)
    bill.status, bill.paid_at = "paid", at
    P.move(po, P.CLOSED, actor, f"bill {bill.bill_no} paid")
    amount = bill.amount_fen + bill.vat_fen
    session.add(SupplierAccountEntry(supplier_id=bill.supplier_id, kind="payment",
                                     amount_fen=-amount, doc=f"PAY-{bill.id}", at=at))
    fin = finance()
    if fin is not None:
        await fin.post_supplier_payment(session, store=po.store, source_id=f"PAY-{bill.id}",
                                        supplier_id=bill.supplier_id, occurred_at=at,
                                        amount_fen=amount)
    return bill


# --------------------------------------------------------------------------- returns


async def return_to_supplier(session: AsyncSession, receipt_id: int, *,
                             lines: list[tuple[str, str, int]], reason: str,
                             actor: str) -> SupplierReturn:
    """Send accepted units of a receipt's lots back; credited on the supplier's account."""
    gr = await session.get(GoodsReceipt, receipt_id, with_for_update=True)
    if gr is None:
        raise NotFound(f"receipt {receipt_id} not found")
    po = await P.get_po(session, gr.po_id, lock=True)
    po_lines = {ln.product_id: ln for ln in await P.po_lines(session, po.id)}
    earlier = (await session.scalars(select(SupplierReturn).where(
        SupplierReturn.receipt_id == receipt_id))).all()
    returned: dict[tuple[str, str], int] = {}
    for r in earlier:
        for x in r.lines:
            key = (x["product_id"], x["lot_no"])
            returned[key] = returned.get(key, 0) + x["qty"]
    by_lot = {(x["product_id"], x["lot_no"]): x for x in gr.lines}
    out: list[ReturnLine] = []
    credit = 0
    ret = SupplierReturn(receipt_id=gr.id, supplier_id=gr.supplier_id, store=gr.store,
                         reason=reason, lines=[], credit_fen=0, created_by=actor,
                         created_at=now())
    session.add(ret)
    await session.flush()
    for product_id, lot_no, qty in lines:
        got = by_lot.get((product_id, lot_no))
        if got is None:
            raise InvalidRequest(f"receipt {receipt_id} has no lot {lot_no} of {product_id}")
        left = got["accepted"] - returned.get((product_id, lot_no), 0)
        if qty < 1 or qty > left:
            raise Conflict(f"lot {lot_no}: {left} may be returned, not {qty}")
        returned[(product_id, lot_no)] = returned.get((product_id, lot_no), 0) + qty
        await take_from_lots(session, store=gr.store, product_id=product_id, qty=qty,
                             lot_no=lot_no, kind="supplier_return", doc_type="supplier_return",
                             doc_id=str(ret.id), actor=actor)
        po_lines[product_id].qty_returned += qty
        cost = got["unit_cost_fen"]
        credit += qty * cost + vat_of(qty, cost, got.get("vat_rate_bp", 1300))
        out.append({"product_id": product_id, "lot_no": lot_no, "qty": qty,
                    "unit_cost_fen": cost})
    ret.lines, ret.credit_fen = out, credit
    session.add(SupplierAccountEntry(supplier_id=gr.supplier_id, kind="credit",
                                     amount_fen=-credit, doc=f"RET-{ret.id}", at=now()))
    return ret


async def supplier_balance(session: AsyncSession, supplier_id: str) -> int:
    """What the chain owes the supplier (fen, VAT included): bills - payments - credits."""
    total = await session.scalar(select(func.coalesce(func.sum(
        SupplierAccountEntry.amount_fen), 0)).where(
        SupplierAccountEntry.supplier_id == supplier_id))
    return int(total or 0)
