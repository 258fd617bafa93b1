"""Daily close per store (日结): orders against the providers' trade bills.

:func:`reconcile` posts what is pending, downloads each provider's bill for the
day (through the payment providers' real clients; the sandboxes serve them in
tests and the demo), and compares, per ``out_trade_no``, what the store's orders
say was paid with what the provider billed. Each difference is a
:class:`CloseMismatch` of one :class:`MismatchKind`. A finance user resolves
(the cause was fixed) or accepts (the difference is explained) each one;
:func:`close_day` closes the day only when none is left open. Running
:func:`reconcile` again keeps what was decided, adds new differences and marks
those that no longer appear as resolved by the system.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Set as AbstractSet
from datetime import date, datetime, time
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol, runtime_checkable
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge.db import Database
from cloud_bridge.errors import Conflict, NotFound
from cloud_bridge.models import Order, now
from cloud_bridge.payments.models import Payment
from cloud_bridge.payments.providers.base import BillLine, FundLine
from common.jsontypes import JsonObject

from .costing import round_half_up
from .jobs import post_pending
from .models import CloseMismatch, DailyClose
from .service import DEFAULT_TZ, post_provider_fee

if TYPE_CHECKING:
    from cloud_bridge.payments.service import PaymentService

log = logging.getLogger(__name__)


class MismatchKind(StrEnum):
    MISSING_AT_PROVIDER = "missing_at_provider"  # the orders say paid; the bill has nothing
    MISSING_IN_ORDERS = "missing_in_orders"  # billed, but no order of the store has it
    AMOUNT_DIFFERS = "amount_differs"
    FEE_DIFFERS = "fee_differs"  # the bill's fee is not the provider's agreed rate
    FUNDS_DIFFER = "funds_differ"  # the fund-flow bill did not move what the trade bill says


class Resolution(StrEnum):
    RESOLVED = "resolved"
    ACCEPTED = "accepted"


# Methods whose provider bills us: a tender of one of them must appear in its bill (cash
# and stored value have no outside bill; the till count and the balances cover them).
BILLED_METHODS = frozenset({"wechat", "alipay", "card", "paypal"})
# The fee rates agreed with each provider, basis points (0.60 %: WeChat Pay's and
# Alipay's standard rate for ordinary retail merchants). A billed fee that is not the
# agreed rate of the line's amount, rounded half up to the fen, is a fee_differs.
AGREED_FEE_BP = {"wechat": 60, "alipay": 60}
OPEN = "open"
CLOSED = "closed"
SYSTEM = "system"


@runtime_checkable
class FundFlowSource(Protocol):
    """A provider that also serves its fund-flow bill (WeChat Pay, Alipay)."""

    async def download_fund_flow(self, day: str) -> list[FundLine]: ...


async def fetch_bills(service: PaymentService | None, day: str) -> dict[str, list[BillLine]]:
    """Every billing provider's trade bill lines for ``day`` (China time), by method."""
    bills: dict[str, list[BillLine]] = {}
    if service is None:
        return bills
    for method, provider in service.providers.items():
        if getattr(provider, "has_bill", False):
            bills[method] = await provider.download_bill(day)
    return bills


async def fetch_fund_flows(service: PaymentService | None,
                           day: str) -> dict[str, list[FundLine]]:
    """Every provider's fund-flow bill (资金账单) lines for ``day``, by method."""
    flows: dict[str, list[FundLine]] = {}
    if service is None:
        return flows
    for method, provider in service.providers.items():
        if getattr(provider, "has_fund_flow", False) and isinstance(provider, FundFlowSource):
            flows[method] = await provider.download_fund_flow(day)
    return flows


async def _owners(session: AsyncSession, nos: list[str]) -> dict[str, str]:
    """The store of each out_trade_no we recorded a payment for."""
    stores: dict[str, str] = {}
    nos = sorted(set(nos))
    for i in range(0, len(nos), 500):
        rows = await session.execute(select(Payment.out_trade_no, Payment.store)
                                     .where(Payment.out_trade_no.in_(nos[i:i + 500])))
        stores.update(dict(rows.tuples().all()))
    return stores


def _owner(stores: dict[str, str], out_trade_no: str) -> str:
    # A trade we never recorded still names its store first ({store}-{kiosk}-...).
    return stores.get(out_trade_no) or out_trade_no.split("-", 1)[0]


async def _expected(session: AsyncSession, store: str, day: str,
                    methods: AbstractSet[str]) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = defaultdict(int)
    for o in await session.scalars(select(Order).where(
            Order.store == store, Order.business_date == day, Order.paid_at.is_not(None))):
        for t in (o.details or {}).get("tenders", []):
            if isinstance(t, dict) and t.get("method") in methods and t.get("out_trade_no"):
                out[(str(t["method"]), str(t["out_trade_no"]))] += int(t.get("amount", 0))
    return out


async def _billed(session: AsyncSession, store: str,
                  bills: dict[str, list[BillLine]]) -> tuple[dict[tuple[str, str], int],
                                                            dict[str, int], list[tuple]]:
    """This store's share of the bills: net billed per trade (payments less same-day
    reversals), the fees per method, and the payment lines carrying a fee."""
    stores = await _owners(session, [ln.out_trade_no for v in bills.values() for ln in v])
    out: dict[tuple[str, str], int] = defaultdict(int)
    fees: dict[str, int] = defaultdict(int)
    with_fee: list[tuple] = []
    for method, lines in bills.items():
        for ln in lines:
            if _owner(stores, ln.out_trade_no) != store:
                continue
            fee = getattr(ln, "fee", None)
            if fee is not None:
                fees[method] += fee
                if ln.kind == "pay":
                    with_fee.append((method, ln.out_trade_no, ln.amount, fee))
            if ln.kind == "refund":
                continue  # refunds are billed on their own day, against their own trade
            out[(method, ln.out_trade_no)] += ln.amount if ln.kind == "pay" else -ln.amount
    return out, fees, with_fee


def _fee_differences(with_fee: list[tuple]) -> dict[tuple[str, str, str], tuple]:
    found: dict[tuple[str, str, str], tuple] = {}
    for method, no, amount, fee in with_fee:
        rate = AGREED_FEE_BP.get(method)
        if rate is None:
            continue
        agreed = round_half_up(amount * rate, 10000)
        if fee != agreed:
            found[(method, no, MismatchKind.FEE_DIFFERS)] = (
                agreed, fee, f"fee on {amount}: agreed {agreed} ({rate} bp), billed {fee}")
    return found


async def _fund_differences(session: AsyncSession, store: str,
                            bills: dict[str, list[BillLine]],
                            funds: dict[str, list[FundLine]]) -> dict[tuple[str, str, str], tuple]:
    """Trade bill against fund-flow bill, per trade of the store: the money moved (trades
    and refunds) and the fees taken must be what the trade bill says."""
    nos = ([ln.out_trade_no for v in bills.values() for ln in v]
           + [fl.out_trade_no for v in funds.values() for fl in v])
    stores = await _owners(session, nos)
    found: dict[tuple[str, str, str], tuple] = {}
    for method, flow in funds.items():
        if method not in bills:
            continue
        billed: dict[str, int] = defaultdict(int)
        billed_fee: dict[str, int] = defaultdict(int)
        for ln in bills[method]:
            if _owner(stores, ln.out_trade_no) == store:
                billed[ln.out_trade_no] += ln.amount if ln.kind == "pay" else -ln.amount
                billed_fee[ln.out_trade_no] += getattr(ln, "fee", None) or 0
        moved: dict[str, int] = defaultdict(int)
        fees: dict[str, int] = defaultdict(int)
        for fl in flow:
            if fl.out_trade_no and _owner(stores, fl.out_trade_no) == store:
                if fl.kind == "fee":
                    fees[fl.out_trade_no] -= fl.amount
                elif fl.kind in ("trade", "refund"):
                    moved[fl.out_trade_no] += fl.amount
        for no in sorted(set(billed) | set(moved)):
            if billed.get(no, 0) != moved.get(no, 0):
                found[(method, no, MismatchKind.FUNDS_DIFFER)] = (
                    billed.get(no, 0), moved.get(no, 0),
                    f"trade bill {billed.get(no, 0)}, fund flow {moved.get(no, 0)}")
            elif billed_fee.get(no, 0) != fees.get(no, 0):
                found.setdefault((method, no, MismatchKind.FEE_DIFFERS), (
                    billed_fee.get(no, 0), fees.get(no, 0),
                    f"fee: trade bill {billed_fee.get(no, 0)}, fund flow {fees.get(no, 0)}"))
    return found


async def _post_fees(session: AsyncSession, store: str, day: str, fees: dict[str, int],
                     tz: str) -> None:
    """The day's billed fees per provider into the ledger (once per store, method, day)."""
    noon = datetime.combine(date.fromisoformat(day), time(12), ZoneInfo(tz))
    for method, fee in sorted(fees.items()):
        await post_provider_fee(session, store=store, provider=method,
                                source_id=f"{store}:{method}:{day}", occurred_at=noon,
                                fee_fen=fee)


def _differences(expected: dict[tuple[str, str], int], billed: dict[tuple[str, str], int],
                 bills: dict[str, list[BillLine]]) -> dict[tuple[str, str, str], tuple]:
    found: dict[tuple[str, str, str], tuple] = {}
    for key in sorted(set(expected) | set(billed)):
        method, no = key
        want, got = expected.get(key), billed.get(key)
        if want is not None and not got:
            why = "not billed" if method in bills else f"no {method} bill to check against"
            found[(method, no, MismatchKind.MISSING_AT_PROVIDER)] = (want, None, why)
        elif want is None and got:
            found[(method, no, MismatchKind.MISSING_IN_ORDERS)] = (None, got, "no order")
        elif want is not None and got is not None and want != got:
            found[(method, no, MismatchKind.AMOUNT_DIFFERS)] = (want, got,
                                                                f"orders {want}, bill {got}")
    return found


async def _close_row(session: AsyncSession, store: str, day: str) -> DailyClose:
    q = select(DailyClose).where(DailyClose.store == store, DailyClose.business_date == day)
    row = await session.scalar(q)
    if row is None:
        try:
            async with session.begin_nested():
                session.add(DailyClose(store=store, business_date=day, status=OPEN, runs=0,
                                       checked=0, providers="", created_at=now()))
        except IntegrityError:
            pass  # another worker opened it meanwhile
        row = await session.scalar(q)
        assert row is not None
    return row


async def reconcile(db: Database, store: str, day: str, bills: dict[str, list[BillLine]], *,
                    funds: dict[str, list[FundLine]] | None = None,
                    tz: str = DEFAULT_TZ) -> int:
    """Compare the store's orders of ``day`` with the trade ``bills``, and those with the
    fund-flow bills ``funds`` (three ways); returns the close's id.

    Raises:
        Conflict: the day is closed already.
    """
    await post_pending(db, tz=tz)

    async def work(s: AsyncSession) -> int:
        close = await _close_row(s, store, day)
        if close.status == CLOSED:
            raise Conflict(f"{store} {day} is closed")
        expected = await _expected(s, store, day, BILLED_METHODS | set(bills))
        billed, fees, with_fee = await _billed(s, store, bills)
        found = _differences(expected, billed, bills) | _fee_differences(with_fee)
        for key, value in (await _fund_differences(s, store, bills, funds or {})).items():
            found.setdefault(key, value)
        await _post_fees(s, store, day, fees, tz)
        known = {(m.method, m.out_trade_no, m.kind): m for m in await s.scalars(
            select(CloseMismatch).where(CloseMismatch.close_id == close.id))}
        at = now()
        for key, (want, got, detail) in found.items():
            row = known.get(key)
            if row is None:
                s.add(CloseMismatch(close_id=close.id, method=key[0], out_trade_no=key[1],
                                    kind=str(key[2]), orders_amount=want, bill_amount=got,
                                    detail=detail, status=OPEN, created_at=at))
            elif row.status == OPEN:
                row.orders_amount, row.bill_amount, row.detail = want, got, detail
        for key, row in known.items():
            if key not in found and row.status == OPEN:
                row.status, row.resolved_by, row.resolved_at = Resolution.RESOLVED, SYSTEM, at
                row.note = "matches on a later run"
        close.runs += 1
        close.checked = len(set(expected) | set(billed))
        close.providers = ",".join(sorted(bills))[:200]
        close.reconciled_at = at
        return close.id

    close_id = await db.transact(work)
    log.info("close %s %s reconciled (%s)", store, day, ",".join(sorted(bills)) or "no bills")
    return close_id


async def get_close(session: AsyncSession, close_id: int) -> tuple[DailyClose,
                                                                   list[CloseMismatch]]:
    close = await session.get(DailyClose, close_id)
    if close is None:
        raise NotFound(f"no close {close_id}")
    items = list(await session.scalars(select(CloseMismatch).where(
        CloseMismatch.close_id == close_id).order_by(CloseMismatch.id)))
    return close, items


async def resolve_mismatch(session: AsyncSession, close_id: int, mismatch_id: int,
                           resolution: Resolution, note: str, actor: str) -> CloseMismatch:
    """A finance user's decision on one mismatch (once; the day must be open)."""
    close = await session.get(DailyClose, close_id, with_for_update=True)
    item = await session.get(CloseMismatch, mismatch_id)
    if close is None or item is None or item.close_id != close_id:
        raise NotFound(f"no mismatch {mismatch_id} in close {close_id}")
    if close.status == CLOSED:
        raise Conflict(f"{close.store} {close.business_date} is closed")
    if item.status != OPEN:
        raise Conflict(f"mismatch {mismatch_id} is {item.status} already")
    item.status, item.note = str(resolution), note[:500]
    item.resolved_by, item.resolved_at = actor[:128], now()
    return item


async def close_day(session: AsyncSession, close_id: int, actor: str) -> DailyClose:
    """Close the day: only after a reconciliation, with no mismatch left open.

    Raises:
        Conflict: never reconciled, mismatches open, or closed already.
    """
    close = await session.get(DailyClose, close_id, with_for_update=True)
    if close is None:
        raise NotFound(f"no close {close_id}")
    if close.status == CLOSED:
        raise Conflict(f"{close.store} {close.business_date} is closed already")
    if close.runs == 0:
        raise Conflict("reconcile the day before closing it")
    still = await session.scalar(select(func.count()).select_from(CloseMismatch).where(
        CloseMismatch.close_id == close_id, CloseMismatch.status == OPEN))
    if still:
        raise Conflict(f"{still} mismatch(es) still open: resolve or accept each first")
    close.status, close.closed_at, close.closed_by = CLOSED, now(), actor[:128]
    return close


def close_json(close: DailyClose, items: list[CloseMismatch]) -> JsonObject:
    return {
        "id": close.id, "store": close.store, "business_date": close.business_date,
        "status": close.status, "runs": close.runs, "checked": close.checked,
        "providers": [p for p in close.providers.split(",") if p],
        "reconciled_at": close.reconciled_at.isoformat() if close.reconciled_at else None,
        "closed_at": close.closed_at.isoformat() if close.closed_at else None,
        "closed_by": close.closed_by,
        "open": sum(1 for m in items if m.status == OPEN),
        "mismatches": [mismatch_json(m) for m in items],
    }


def mismatch_json(m: CloseMismatch) -> JsonObject:
    return {"id": m.id, "method": m.method, "out_trade_no": m.out_trade_no, "kind": m.kind,
            "orders_amount": m.orders_amount, "bill_amount": m.bill_amount,
            "detail": m.detail, "status": m.status, "note": m.note,
            "resolved_by": m.resolved_by,
            "resolved_at": m.resolved_at.isoformat() if m.resolved_at else None}
