"""What sales, refunds, top-ups and restocked returns post (run by :mod:`.jobs`).

A sale (``cloud_bridge.models.Order`` once paid) posts, in one entry:
debit the clearing account of each tender (cash to the till; anything unpaid to
receivables), credit output VAT and revenue net of VAT by product category, and
debit cost of goods / credit inventory at the store's moving average cost. A
stored-value tender then moves from its clearing account to the members'
stored-value liability in a second entry (``sv_use``) by the amount the member's
balance actually fell; a shortfall (offline sale on a balance spent elsewhere)
becomes a receivable.

A refund credits each tender's clearing account (stored value: the liability,
the member's balance grew back) and debits revenue and output VAT in the order's
proportions. Goods coming back to the shelf (a return with ``restock``) post
inventory back at the current average cost against cost of goods.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge import catalog
from cloud_bridge.models import Order, OrderLine, RefundRequest, ReturnRecord
from cloud_bridge.payments.models import StoredValueEntry

from . import accounts as A
from . import costing
from .costing import round_half_up
from .ledger import Draft, Leg, credit, debit
from .service import DEFAULT_TZ, local_date

log = logging.getLogger(__name__)

# VAT rate assumed for a product the store's price book does not know: 13 %, the
# standard rate for goods (a known product's own rate always wins).
DEFAULT_VAT_BP = 1300
# Stored-value top-ups at the counter are not tied to a store in the payments
# domain; they post to the chain's head-office ledger under this store key.
HQ_STORE = "_hq"


@dataclass(slots=True)
class ProductInfo:
    """Category and VAT rate of each product, from the stores' current price books."""

    books: dict[str, dict[str, tuple[str | None, int]]] = field(default_factory=dict)

    async def get(self, session: AsyncSession, store: str, product_id: str) -> tuple[str, int]:
        if store not in self.books:
            self.books[store] = await _book_products(session, store)
        category, rate = self.books[store].get(product_id, (None, DEFAULT_VAT_BP))
        return category or "general", rate


async def _book_products(session: AsyncSession, store: str) -> dict[str, tuple[str | None, int]]:
    info = await catalog.current_info(session, store)
    body = await catalog.book_body(session, store, info.version) if info else None
    if body is None:
        return {}
    try:
        products = json.loads(body[1]).get("products", [])
        return {p["product_id"]: (p.get("category"), int(p.get("vat_rate_bp", DEFAULT_VAT_BP)))
                for p in products}
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        log.warning("price book of %s unreadable for finance (%s); default categories", store,
                    err)
        return {}


# What allocate splits over: tender methods (str) or VAT rates in basis points (int).
PartKey = TypeVar("PartKey", str, int)


def allocate(total: int, weights: dict[PartKey, int]) -> dict[PartKey, int]:
    """Split ``total`` fen over keys in proportion to ``weights`` (largest remainder).

    The parts always add up to ``total`` exactly.
    """
    keys = sorted(weights)
    whole = sum(max(w, 0) for w in weights.values())
    if not keys:
        return {}
    if whole == 0:
        return {k: (total if i == 0 else 0) for i, k in enumerate(keys)}
    sign = -1 if total < 0 else 1
    parts = {k: abs(total) * max(weights[k], 0) // whole for k in keys}
    rest = abs(total) - sum(parts.values())
    by_remainder = sorted(keys, key=lambda k: (-(abs(total) * max(weights[k], 0) % whole), k))
    for k in by_remainder[:rest]:
        parts[k] += 1
    return {k: sign * v for k, v in parts.items()}


@dataclass(frozen=True, slots=True)
class _Tender:
    """One tender of an order as the order's details hold it (JSON, written by the till)."""

    method: str | None
    amount: int
    out_trade_no: str | None


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _fen(value: object) -> int:
    if isinstance(value, int | float | str):
        return int(value)
    raise TypeError(f"a tender's amount is {type(value).__name__}, not a number")


def _tenders(order: Order) -> list[_Tender]:
    return [_Tender(_text(t.get("method")), _fen(t.get("amount", 0)),
                    _text(t.get("out_trade_no")))
            for t in (order.details or {}).get("tenders", []) if isinstance(t, dict)]


@dataclass(slots=True)
class SaleSplit:
    """How an order's total divides: VAT, net revenue by category, tenders."""

    tax: int
    revenue: dict[str, int]  # account code -> net fen
    category_gross: dict[str, int]


async def split_sale(session: AsyncSession, order: Order, lines: list[OrderLine],
                     products: ProductInfo) -> SaleSplit:
    gross_by_account: dict[str, int] = defaultdict(int)
    computed_tax = 0
    for ln in lines:
        category, rate = await products.get(session, order.store, ln.product_id)
        gross_by_account[A.revenue(category)] += ln.amount
        # Tax of a tax-inclusive price: net = round half up of price / (1 + rate).
        computed_tax += ln.amount - round_half_up(ln.amount * 10000, 10000 + rate)
    vat = [v for v in (order.details or {}).get("vat", []) if isinstance(v, dict)]
    if vat and sum(int(v.get("gross", 0)) for v in vat) == order.total:
        tax = sum(int(v.get("tax", 0)) for v in vat)  # the receipt's own VAT breakdown
    else:
        tax = computed_tax
    if sum(gross_by_account.values()) != order.total:
        gross_by_account = defaultdict(int, allocate(order.total, dict(gross_by_account)))
    return SaleSplit(tax, allocate(order.total - tax, dict(gross_by_account)),
                     dict(gross_by_account))


def _clearing_or_receivable(method: str) -> str:
    try:
        return A.clearing(method)
    except KeyError:
        return A.RECEIVABLES


async def sale_drafts(session: AsyncSession, order: Order, lines: list[OrderLine],
                      products: ProductInfo, sv_used: dict[str, StoredValueEntry],
                      post_date: str | None = None) -> list[Draft]:
    """The sale entry of a paid order, and its stored-value use when it has one.

    Takes the sold units out of the moving average costs: call it once per order,
    under the posting lock (:mod:`.jobs`). ``post_date`` books it on another day than
    the sale's (a sale that arrives after its day was closed goes to an open day).
    """
    day = post_date or order.business_date
    late = f" (sale of {order.business_date}, day closed)" if day != order.business_date else ""
    split = await split_sale(session, order, lines, products)
    legs: list[Leg] = []
    paid = 0
    for t in _tenders(order):
        amount = t.amount
        legs.append(debit(_clearing_or_receivable(str(t.method)), amount, t.out_trade_no))
        paid += amount
    if paid != order.total:  # e.g. a mini-program order marked paid without its tender
        legs.append(debit(A.RECEIVABLES, order.total - paid))
    legs += [credit(code, amount) for code, amount in sorted(split.revenue.items())]
    legs.append(credit(A.OUTPUT_VAT, split.tax))
    cogs = 0
    for ln in lines:
        units = ln.weight_g if ln.weight_g else ln.qty
        cogs += await costing.issue(session, order.store, ln.product_id, units)
    legs += [debit(A.COGS, cogs), credit(A.INVENTORY, cogs)]
    drafts = [Draft(order.store, "sale", order.order_no, day,
                    order.paid_at or order.created_at, legs, f"order {order.order_no}{late}")]
    for t in _tenders(order):
        used = sv_used.get(str(t.out_trade_no))
        amount = t.amount
        if t.method != "stored_value" or used is None or amount <= 0:
            continue  # not applied to a balance yet: the clearing account shows it open
        applied = -used.delta
        drafts.append(Draft(
            order.store, "sv_use", str(t.out_trade_no), day, used.created_at,
            [debit(A.SV_PRINCIPAL, applied),
             debit(A.RECEIVABLES, amount - applied, "stored-value shortfall"),
             credit(A.clearing("stored_value"), amount)],
            f"stored value used by member {used.member_id}"[:200]))
    return drafts


async def refund_draft(session: AsyncSession, refund: RefundRequest, order: Order,
                       lines: list[OrderLine], products: ProductInfo,
                       tz: str = DEFAULT_TZ) -> Draft:
    """A refund that succeeded: revenue and VAT back, money out of the tenders' accounts."""
    split = await split_sale(session, order, lines, products)
    tax = round_half_up(refund.amount * split.tax, order.total) if order.total else 0
    legs = [debit(code, amount) for code, amount in
            sorted(allocate(refund.amount - tax, split.revenue).items())]
    legs.append(debit(A.OUTPUT_VAT, tax))
    tenders = {f"{i:03d}:{t.method}": t.amount
               for i, t in enumerate(_tenders(order))}
    for key, amount in sorted(allocate(refund.amount, tenders or {"receivable": 1}).items()):
        method = key.split(":", 1)[-1]
        # Stored value: the member's balance grew back, so the liability does.
        code = A.SV_PRINCIPAL if method == "stored_value" else _clearing_or_receivable(method)
        legs.append(credit(code, amount))
    return Draft(order.store, "refund", refund.out_refund_no,
                 local_date(refund.updated_at, tz), refund.updated_at, legs,
                 f"refund of order {order.order_no}: {refund.reason}"[:200])


def topup_draft(entry: StoredValueEntry, tz: str = DEFAULT_TZ) -> Draft | None:
    """A stored-value top-up at the counter: cash in, liability to the member up."""
    if entry.delta <= 0:
        return None
    return Draft(HQ_STORE, "topup", entry.entry_key, local_date(entry.created_at, tz),
                 entry.created_at,
                 [debit(A.CASH, entry.delta), credit(A.SV_PRINCIPAL, entry.delta)],
                 f"top-up of member {entry.member_id}"[:200])


async def restock_draft(session: AsyncSession, ret: ReturnRecord, order: Order,
                        lines: list[OrderLine], tz: str = DEFAULT_TZ) -> Draft | None:
    """Returned goods back on the shelf: inventory up, cost of goods down (at the
    current average cost)."""
    by_no = {ln.line_no: ln for ln in lines}
    value = 0
    for item in ret.lines or []:
        ln = by_no.get(int(item.get("line_no", 0)))
        qty = int(item.get("qty", 0))
        if ln is None or qty <= 0:
            continue
        units = ln.weight_g * qty // max(ln.qty, 1) if ln.weight_g else qty
        cost = await costing.unit_cost(session, order.store, ln.product_id)
        if cost:
            await costing.receive(session, order.store, ln.product_id, units, cost)
            value += units * cost
    if value == 0:
        return None
    return Draft(order.store, "return_restock", str(ret.id), local_date(ret.created_at, tz),
                 ret.created_at, [debit(A.INVENTORY, value), credit(A.COGS, value)],
                 f"restocked return on order {order.order_no}")
