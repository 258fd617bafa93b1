"""E-invoices (数电发票): an invoice request becomes a blue invoice, a refund a red one.

A blue invoice is one :class:`Fapiao` row per attempt for an invoice request
(``apply_id`` ``B<invoice>-<attempt>``, unique: a second blue for the same request is
refused while one is on its way or issued). Its lines are the order's lines, each with
its product's 19-digit tax classification code (税收分类编码) and VAT rate, scaled to
the amount the request is for; the tax of each line is that of its tax-inclusive
amount (net = round half up of amount / (1 + rate)), the invoice's totals are the sums.

Issuing is asynchronous on the platform: the row goes ``applying`` (saved before the
request, so a crash never loses it) -> ``accepted`` -> ``issued`` when
:func:`sync` finds the number, downloads the PDF, stores it and posts the entry that
moves the invoice's tax to the invoiced output VAT account. A platform refusal is
``failed`` with its reason (the request may be corrected and issued again).

A red-letter invoice (红字) reverses all or part of an issued blue one, never more than
what is left of it: ``applying`` -> the 红字发票信息确认单 is filed -> ``confirming``
while an organisation buyer has to confirm it -> ``accepted`` -> ``issued``. A
succeeded refund of an invoiced order raises one by itself (reason 02 销货退回 when
goods came back, else 04 销售折让), once per refund.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re

from sqlalchemy import exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from cloud_bridge import catalog
from cloud_bridge.db import Database, get_row
from cloud_bridge.errors import Conflict, InvalidRequest, NotFound
from cloud_bridge.invoices import TAX_ID
from cloud_bridge.models import Invoice, Order, OrderLine, RefundRequest, ReturnRecord, now
from cloud_bridge.service.storage import FileStorage
from common.jsontypes import JsonMapping, JsonObject

from . import accounts as A
from .costing import round_half_up
from .fapiao_client import FapiaoClient, FapiaoError, FapiaoUnavailable
from .ledger import credit, debit, post_entry
from .models import Fapiao
from .posting import DEFAULT_VAT_BP, allocate
from .service import DEFAULT_TZ, local_date

log = logging.getLogger(__name__)

BLUE, RED = "blue", "red"
APPLYING, CONFIRMING, ACCEPTED, ISSUED, FAILED = (
    "applying", "confirming", "accepted", "issued", "failed")
PENDING = (APPLYING, CONFIRMING, ACCEPTED)
REASONS = {"01": "开票有误", "02": "销货退回", "03": "服务中止", "04": "销售折让"}
TAX_CODE = re.compile(r"^\d{19}$")
# Classification codes for products whose price-book entry carries no ``tax_code``, by
# category (the chain's tax adviser owns the real mapping; a product's own code wins).
DEFAULT_TAX_CODES = {
    "grain": "1010101000000000000", "produce": "1010112000000000000",
    "dairy": "1030203000000000000", "drinks": "1030307000000000000",
    "alcohol": "1030301000000000000", "snacks": "1030199000000000000",
    "candy": "1030104000000000000", "instant_food": "1030111000000000000",
}
GENERAL_TAX_CODE = "1030199000000000000"
CATEGORY_NAMES = {"grain": "谷物", "produce": "蔬菜", "dairy": "乳制品", "drinks": "饮料",
                  "alcohol": "酒", "snacks": "焙烤食品", "candy": "糖果", "instant_food": "方便食品"}


def tax_of(gross: int, rate_bp: int) -> int:
    """VAT in a tax-inclusive amount: gross - round half up(gross / (1 + rate))."""
    return gross - round_half_up(gross * 10000, 10000 + rate_bp)


def _int(value: object) -> int:
    """A number read back from JSON (a price book, an invoice line) as an int."""
    if isinstance(value, int | float | str):
        return int(value)
    raise TypeError(f"expected a number, got {type(value).__name__}")


async def _products(session: AsyncSession, store: str) -> dict[str, JsonMapping]:
    info = await catalog.current_info(session, store)
    body = await catalog.book_body(session, store, info.version) if info else None
    if body is None:
        return {}
    try:
        return {p["product_id"]: p for p in json.loads(body[1]).get("products", [])}
    except (ValueError, KeyError, TypeError, AttributeError):
        return {}


async def blue_items(session: AsyncSession, order: Order, amount: int) -> list[JsonObject]:
    """The invoice lines of ``amount`` fen of ``order`` (its lines scaled to the amount)."""
    lines = list(await session.scalars(select(OrderLine).where(
        OrderLine.order_id == order.id, OrderLine.amount > 0).order_by(OrderLine.line_no)))
    if not lines:
        raise Conflict(f"order {order.order_no} has no paid lines to invoice")
    books = await _products(session, order.store)
    shares = allocate(amount, {f"{ln.line_no:05d}": ln.amount for ln in lines})
    items: list[JsonObject] = []
    for ln in lines:
        gross = shares[f"{ln.line_no:05d}"]
        if gross <= 0:
            continue
        p = books.get(ln.product_id, {})
        category = str(p.get("category") or "general")
        rate = _int(p.get("vat_rate_bp", DEFAULT_VAT_BP))
        code = p.get("tax_code") or DEFAULT_TAX_CODES.get(category, GENERAL_TAX_CODE)
        items.append({"tax_code": code, "goods_name": ln.name_zh[:100],
                      "category_name": CATEGORY_NAMES.get(category, "商品"),
                      "quantity": ln.weight_g or ln.qty, "unit": "克" if ln.weight_g else "件",
                      "total_amount": gross, "tax_rate": rate, "tax_amount": tax_of(gross, rate)})
    return items


def red_items(blue: Fapiao, amount: int, taken: list[list[JsonMapping]]) -> list[JsonObject]:
    """What a red invoice of ``amount`` takes back from each blue line (``blue_line``).

    ``taken`` are the items of the red invoices before it. The last red invoice takes
    exactly what is left of each line, tax included, so that a blue invoice reversed in
    parts is reversed to the fen; the others split ``amount`` by what is left of the lines.
    """
    left_gross = {n: _int(i["total_amount"]) for n, i in enumerate(blue.items)}
    left_tax = {n: _int(i["tax_amount"]) for n, i in enumerate(blue.items)}
    for items in taken:
        for item in items:
            line = _int(item["blue_line"])
            left_gross[line] -= _int(item["total_amount"])
            left_tax[line] -= _int(item["tax_amount"])
    last = amount == sum(left_gross.values())
    shares = left_gross if last else {
        int(k): v for k, v in allocate(amount, {f"{n:05d}": g for n, g in left_gross.items()
                                                if g > 0}).items()}
    out: list[JsonObject] = []
    for n, item in enumerate(blue.items):
        gross = shares.get(n, 0)
        if gross > 0:
            tax = left_tax[n] if last else min(tax_of(gross, _int(item["tax_rate"])), left_tax[n])
            out.append({**item, "blue_line": n, "total_amount": gross, "tax_amount": tax})
    return out


def _payload(inv: Invoice, doc: Fapiao) -> JsonObject:
    buyer = {"type": "ORGANIZATION" if inv.kind == "company" else "INDIVIDUAL",
             "name": inv.title, "email": inv.email}
    if inv.tax_id:
        buyer["taxpayer_id"] = inv.tax_id
    return {"scene": "WITH_WECHATPAY", "fapiao_apply_id": doc.apply_id,
            "buyer_information": buyer,
            "fapiao_information": [{"fapiao_id": doc.apply_id, "total_amount": doc.total,
                                    "need_list": False, "items": doc.items}]}


def _red_payload(blue: Fapiao, doc: Fapiao) -> JsonObject:
    return {"fapiao_apply_id": blue.apply_id, "blue_fapiao_number": blue.number,
            "out_confirmation_id": doc.apply_id, "reason_code": doc.reason_code,
            "total_amount": doc.total, "items": doc.items}


async def _blue_of(session: AsyncSession, invoice_id: int) -> Fapiao | None:
    return await session.scalar(select(Fapiao).where(
        Fapiao.invoice_id == invoice_id, Fapiao.color == BLUE, Fapiao.status != FAILED))


async def start_blue(session: AsyncSession, invoice_id: int, actor: str) -> Fapiao:
    """Record the blue invoice of request ``invoice_id`` before asking the platform.

    Raises:
        NotFound, Conflict (cancelled, nothing to invoice, issued or on its way already),
        InvalidRequest (a company buyer's tax id is not a valid 纳税人识别号).
    """
    inv = await session.get(Invoice, invoice_id)
    if inv is None:
        raise NotFound(f"invoice {invoice_id} not found")
    if inv.status == "cancelled":
        raise Conflict(f"invoice {invoice_id} was cancelled")
    known = await _blue_of(session, invoice_id)
    if known is not None:
        what = f"issued as {known.number}" if known.status == ISSUED else "being issued"
        raise Conflict(f"invoice {invoice_id} is {what} already")
    if inv.status == "issued":  # marked issued by hand: issued outside this platform
        raise Conflict(f"invoice {invoice_id} is marked issued already")
    if inv.kind == "company" and not (inv.tax_id and TAX_ID.match(inv.tax_id)):
        raise InvalidRequest("the buyer's tax id (纳税人识别号) is not valid")
    if inv.amount <= 0:
        raise Conflict(f"invoice {invoice_id} is for nothing")
    order = await session.get(Order, inv.order_id)
    assert order is not None
    items = await blue_items(session, order, inv.amount)
    attempt = 1 + int(await session.scalar(select(func.count()).select_from(Fapiao).where(
        Fapiao.invoice_id == invoice_id, Fapiao.color == BLUE)) or 0)
    doc = Fapiao(invoice_id=invoice_id, store=order.store, color=BLUE,
                 apply_id=f"B{invoice_id}-{attempt}", status=APPLYING, total=inv.amount,
                 tax=sum(_int(i["tax_amount"]) for i in items), items=items, created_by=actor[:128],
                 created_at=now(), updated_at=now())
    try:
        async with session.begin_nested():
            session.add(doc)
    except IntegrityError:
        raise Conflict(f"invoice {invoice_id} is being issued already") from None
    inv.status, inv.error, inv.updated_at = "requested", None, now()
    return doc


async def start_red(session: AsyncSession, invoice_id: int, amount: int, reason_code: str,
                    source: str, actor: str) -> Fapiao:
    """Record a red-letter invoice of ``amount`` fen against the issued blue invoice
    (once per ``source``: a retry answers the same document).

    Raises:
        Conflict: no issued blue invoice, or more than what is left of it.
        InvalidRequest: an unknown reason code or an amount that is not positive.
    """
    if reason_code not in REASONS:
        raise InvalidRequest(f"reason_code: one of {', '.join(REASONS)}")
    if amount <= 0:
        raise InvalidRequest("amount must be positive")
    blue = await session.scalar(select(Fapiao).where(
        Fapiao.invoice_id == invoice_id, Fapiao.color == BLUE, Fapiao.status == ISSUED))
    if blue is None:
        raise Conflict(f"invoice {invoice_id} has no issued invoice to reverse")
    apply_id = f"R{blue.id}-{source}"[:64]
    known = await session.scalar(select(Fapiao).where(Fapiao.apply_id == apply_id))
    if known is not None:
        return known
    reds = list(await session.scalars(select(Fapiao).where(
        Fapiao.blue_id == blue.id, Fapiao.status != FAILED)))
    left = blue.total - sum(r.total for r in reds)
    if amount > left:
        raise Conflict(f"red-letter invoice of {amount} fen is more than the {left} fen left "
                       f"of invoice {blue.number}")
    items = red_items(blue, amount, [r.items for r in reds])
    doc = Fapiao(invoice_id=invoice_id, store=blue.store, color=RED, apply_id=apply_id,
                 blue_id=blue.id, source=source[:80], reason_code=reason_code,
                 status=APPLYING, total=amount, tax=sum(_int(i["tax_amount"]) for i in items),
                 items=items, created_by=actor[:128], created_at=now(), updated_at=now())
    try:
        async with session.begin_nested():
            session.add(doc)
    except IntegrityError:  # another worker raised it for the same refund meanwhile
        known = await session.scalar(select(Fapiao).where(Fapiao.apply_id == apply_id))
        if known is None:
            raise
        return known
    return doc


async def sync_one(db: Database, client: FapiaoClient, storage: FileStorage, doc_id: int,
                   *, tz: str = DEFAULT_TZ) -> None:
    """Move one pending document on as far as the platform allows now."""
    async with db.session() as s:
        doc = await get_row(s, Fapiao, doc_id)
        inv = await get_row(s, Invoice, doc.invoice_id)
        status, confirmation = doc.status, doc.confirmation_no
        color, apply_id = doc.color, doc.apply_id
        payload = (_payload(inv, doc) if color == BLUE
                   else _red_payload(await get_row(s, Fapiao, doc.blue_id), doc))
    update: dict[str, str | None] = {}
    pdf: bytes | None = None
    try:
        if color == BLUE and status == APPLYING:
            await client.apply(payload)
            update["status"] = ACCEPTED
        elif color == BLUE:
            result = await client.query(apply_id)
            if result.status in ("ISSUED", "REVERSED"):
                pdf = await client.blue_file(apply_id)
                update.update(status=ISSUED, number=result.number, code=result.code or "",
                              issued_at=result.issued_at)
        else:
            if status == APPLYING:
                result = await client.confirm_red(payload)
                confirmation = result.confirmation_no
                update.update(confirmation_no=confirmation, status=CONFIRMING)
            else:
                result = await client.red_status(str(confirmation))
            if result.status == "REJECTED":
                update.update(status=FAILED, error="the buyer rejected the confirmation")
            elif result.status == "CONFIRMED":
                await client.issue_red(str(confirmation))
                update["status"] = ACCEPTED
            elif result.status == "RED_ISSUED":
                pdf = await client.red_file(str(confirmation))
                update.update(status=ISSUED, number=result.number, code=result.code or "",
                              issued_at=result.issued_at)
    except FapiaoError as err:
        update.update(status=FAILED, error=str(err)[:300])
    except FapiaoUnavailable as err:
        log.warning("e-invoice %s: platform unavailable (%s); retried later", apply_id, err)
    if not update and pdf is None:
        return
    key = await storage.put(pdf, ".pdf") if pdf is not None else None
    async with db.session() as s:
        locked = await s.get(Fapiao, doc_id, with_for_update=True)
        if locked is None or locked.status != status:
            return  # another worker moved it meanwhile
        doc = locked
        for name, value in update.items():
            setattr(doc, name, value)
        doc.updated_at = now()
        if key is not None:
            doc.file_key, doc.file_sha256 = key, hashlib.sha256(pdf or b"").hexdigest()
        inv = await get_row(s, Invoice, doc.invoice_id)
        if doc.color == BLUE and doc.status in (ISSUED, FAILED):
            inv.status, inv.error, inv.updated_at = doc.status, doc.error, now()
        if doc.status == ISSUED:
            await _post(s, doc, tz)


async def _post(session: AsyncSession, doc: Fapiao, tz: str) -> None:
    """The invoice's tax moves to the invoiced output VAT account (red: back again)."""
    if doc.tax <= 0:
        return
    legs = [debit(A.OUTPUT_VAT, doc.tax), credit(A.OUTPUT_VAT_INVOICED, doc.tax)]
    if doc.color == RED:
        legs = [debit(A.OUTPUT_VAT_INVOICED, doc.tax), credit(A.OUTPUT_VAT, doc.tax)]
    at = now()
    await post_entry(session, store=doc.store, source_type=f"fapiao_{doc.color}",
                     source_id=doc.apply_id, business_date=local_date(at, tz), occurred_at=at,
                     legs=legs, memo=f"{doc.color} e-invoice {doc.number}", posted_by="finance")


async def _refunds_to_reverse(session: AsyncSession) -> list[tuple[int, RefundRequest, bool]]:
    """Succeeded refunds of invoiced orders without their red-letter invoice yet."""
    red = aliased(Fapiao)
    rows = (await session.execute(
        select(Fapiao.invoice_id, Fapiao.id, RefundRequest)
        .join(Invoice, Invoice.id == Fapiao.invoice_id)
        .join(RefundRequest, RefundRequest.order_id == Invoice.order_id)
        .where(Fapiao.color == BLUE, Fapiao.status == ISSUED,
               RefundRequest.status == "succeeded", RefundRequest.amount > 0,
               # refunds before the request are out of its amount already
               RefundRequest.updated_at >= Invoice.created_at,
               ~exists().where(red.blue_id == Fapiao.id,
                               red.source == RefundRequest.out_refund_no))
        .order_by(RefundRequest.id).limit(200))).all()
    out = []
    for invoice_id, _, refund in rows:
        goods_back = await session.scalar(select(exists().where(
            ReturnRecord.order_id == refund.order_id)))
        out.append((invoice_id, refund, bool(goods_back)))
    return out


async def sync(db: Database, client: FapiaoClient, storage: FileStorage, *,
               tz: str = DEFAULT_TZ) -> dict[str, int]:
    """Raise red-letter invoices for refunds of invoiced orders, then move every pending
    document on; counts of documents by the status they ended in."""
    async with db.session() as s:
        for invoice_id, refund, goods_back in await _refunds_to_reverse(s):
            blue = await _blue_of(s, invoice_id)
            reds = await s.scalar(select(func.coalesce(func.sum(Fapiao.total), 0)).where(
                Fapiao.blue_id == blue.id, Fapiao.status != FAILED)) if blue else 0
            left = (blue.total - int(reds or 0)) if blue else 0
            if left > 0:
                await start_red(s, invoice_id, min(refund.amount, left),
                                "02" if goods_back else "04", refund.out_refund_no, "system")
    async with db.session() as s:
        ids = list(await s.scalars(select(Fapiao.id).where(Fapiao.status.in_(PENDING))
                                   .order_by(Fapiao.id).limit(200)))
    for doc_id in ids:
        await sync_one(db, client, storage, doc_id, tz=tz)
    async with db.session() as s:
        rows = await s.execute(select(Fapiao.status, func.count()).where(Fapiao.id.in_(ids))
                               .group_by(Fapiao.status))
        return {str(k): int(v) for k, v in rows.all()}


def fapiao_json(doc: Fapiao) -> JsonObject:
    return {"id": doc.id, "invoice_id": doc.invoice_id, "store": doc.store,
            "color": doc.color, "apply_id": doc.apply_id, "blue_id": doc.blue_id,
            "source": doc.source, "reason_code": doc.reason_code,
            "confirmation_no": doc.confirmation_no, "status": doc.status, "total": doc.total,
            "tax": doc.tax, "items": doc.items, "number": doc.number, "code": doc.code,
            "issued_at": doc.issued_at, "has_pdf": bool(doc.file_key), "error": doc.error,
            "created_by": doc.created_by, "created_at": doc.created_at.isoformat()}
