"""Automatic settlement postings: each provider's day, fees and payout to the bank (T+1).

WeChat Pay and Alipay pay an ordinary merchant's balance out to its bank account by
themselves the day after (T+1 结算): the day's payments, less its refunds and
reversals, less the fees. :func:`post_settlements` reads the providers' trade bills of a
day and, per store, posts

* the billed fees (``provider_fee``, debit fees / credit the clearing account), with
  the same source id the daily close uses, so whichever runs first posts them, once;
* the settlement (``settlement``, debit bank / credit the clearing account) of the net.

Sales and refunds themselves are posted from the orders by :mod:`.jobs`; once those and
the day's settlement are in, the provider's clearing account is back where it started.
Every posting is idempotent by source (``UNIQUE(source_type, source_id)``), so the
job may run any number of times, in any number of workers. Providers not listed in
:data:`AUTO_SETTLED` (cards, PayPal) keep their balance until a payout takes it out.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge.db import Database
from cloud_bridge.models import now
from cloud_bridge.payments.providers.base import BillLine

from .close import _owner, _owners, fetch_bills
from .ledger import entry_for
from .service import DEFAULT_TZ, local_date, post_provider_fee, post_provider_settlement

if TYPE_CHECKING:
    from cloud_bridge.payments.service import PaymentService

log = logging.getLogger(__name__)

# Providers that settle to the bank by themselves the next day.
AUTO_SETTLED = frozenset({"wechat", "alipay"})
# Settlement reaches the bank at this local time of the next day (WeChat Pay and Alipay
# pay T+1 in the morning); the entry is booked then.
SETTLED_AT = time(10, 0)


def per_store(lines: list[BillLine], stores: dict[str, str]) -> dict[str, tuple[int, int]]:
    """Each store's (net money, fees) in one provider's bill: payments less refunds and
    reversals; fees as billed (negative when given back)."""
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for ln in lines:
        store = _owner(stores, ln.out_trade_no)
        out[store][0] += ln.amount if ln.kind == "pay" else -ln.amount
        out[store][1] += ln.fee or 0
    return {s: (net, fee) for s, (net, fee) in out.items()}


async def post_settlements(db: Database, service: PaymentService | None, day: str, *,
                           tz: str = DEFAULT_TZ) -> dict[str, int]:
    """Post the fees and T+1 settlements of ``day`` from the providers' bills; counts of
    entries written by kind (0 when all were posted before)."""
    bills = {m: lines for m, lines in (await fetch_bills(service, day)).items()
             if m in AUTO_SETTLED}
    noon = datetime.combine(date.fromisoformat(day), time(12), ZoneInfo(tz))
    paid_at = datetime.combine(date.fromisoformat(day) + timedelta(days=1), SETTLED_AT,
                               ZoneInfo(tz))
    counts = {"provider_fee": 0, "settlement": 0}

    async def work(s: AsyncSession) -> None:
        stores = await _owners(s, [ln.out_trade_no for v in bills.values() for ln in v])
        for method, lines in sorted(bills.items()):
            for store, (net, fee) in sorted(per_store(lines, stores).items()):
                source = f"{store}:{method}:{day}"
                if fee and await entry_for(s, "provider_fee", source) is None:
                    await post_provider_fee(s, store=store, provider=method, source_id=source,
                                            occurred_at=noon, fee_fen=fee)
                    counts["provider_fee"] += 1
                if net - fee > 0 and await entry_for(s, "settlement", source) is None:
                    await post_provider_settlement(s, store=store, provider=method,
                                                   source_id=source, occurred_at=paid_at,
                                                   amount_fen=net - fee)
                    counts["settlement"] += 1
                elif net - fee < 0:
                    log.warning("%s %s %s: refunds above payments (%d fen); the provider "
                                "takes it from the next days, nothing settled", store, method,
                                day, net - fee)

    await db.transact(work)
    if any(counts.values()):
        log.info("settlements of %s posted: %s", day, counts)
    return counts


def settled_day(tz: str = DEFAULT_TZ) -> str | None:
    """The day whose settlement is due now (yesterday, once past :data:`SETTLED_AT`)."""
    at = now().astimezone(ZoneInfo(tz))
    if at.time() < SETTLED_AT:
        return None
    return local_date(at - timedelta(days=1), tz)
