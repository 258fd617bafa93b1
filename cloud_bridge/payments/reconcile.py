"""Daily reconciliation: each provider's bill for a day against the stored payments.

A mismatch is reported with its reason, one per line:

* ``missing_in_bill``: we recorded a paid payment the provider did not bill.
* ``missing_in_db``: the provider billed a payment we have no paid record of
  (money taken without a sale: reverse or refund it).
* ``amount_mismatch``: both have it, with different amounts.
* ``reversed_but_billed``: we recorded a reversal, the provider billed a payment and
  no reversal.
* ``refund_mismatch``: refunded totals differ.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select

from common.jsontypes import JsonObject

from .models import PAID, REVERSED, PaymentRefund
from .service import PaymentService

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Mismatch:
    method: str
    out_trade_no: str
    reason: str
    detail: str

    def line(self) -> str:
        return f"{self.method}\t{self.out_trade_no}\t{self.reason}\t{self.detail}"


@dataclass
class ReconcileReport:
    day: str
    checked: dict[str, int]
    mismatches: list[Mismatch]

    @property
    def ok(self) -> bool:
        return not self.mismatches


async def reconcile_day(service: PaymentService, day: str) -> ReconcileReport:
    checked: dict[str, int] = {}
    mismatches: list[Mismatch] = []
    async with service.db.session() as s:
        refunds: dict[str, int] = defaultdict(int)
        for r in await s.scalars(select(PaymentRefund).where(PaymentRefund.status == "success")):
            refunds[r.out_trade_no] += r.amount
    for method, provider in service.providers.items():
        if not provider.has_bill:
            continue
        lines = await provider.download_bill(day)
        billed: dict[str, int] = defaultdict(int)
        returned: dict[str, int] = defaultdict(int)
        reversed_: set[str] = set()
        for line in lines:
            if line.kind == "pay":
                billed[line.out_trade_no] += line.amount
            else:
                returned[line.out_trade_no] += line.amount
                if line.kind == "reverse" or line.out_refund_no == "":
                    reversed_.add(line.out_trade_no)
        rows = {r["out_trade_no"]: r for r in await service.store.list(day=day, methods=(method,))}
        checked[method] = len(set(rows) | set(billed))
        for no, row in rows.items():
            if row["status"] == PAID:
                if no not in billed:
                    mismatches.append(Mismatch(method, no, "missing_in_bill",
                                               f"paid {row['amount']} not in the bill"))
                elif billed[no] != row["amount"]:
                    mismatches.append(Mismatch(method, no, "amount_mismatch",
                                               f"db {row['amount']} bill {billed[no]}"))
                elif returned[no] != refunds.get(no, 0):
                    mismatches.append(Mismatch(method, no, "refund_mismatch",
                                               f"db refunded {refunds.get(no, 0)} "
                                               f"bill {returned[no]}"))
            elif row["status"] == REVERSED and no in billed and returned[no] < billed[no]:
                mismatches.append(Mismatch(method, no, "reversed_but_billed",
                                           f"billed {billed[no]}, returned {returned[no]}"))
        for no, amount in billed.items():
            stored = rows.get(no)
            if stored is None or stored["status"] not in (PAID, REVERSED):
                if returned[no] >= amount:
                    continue    # charged and given back the same day: nothing held
                mismatches.append(Mismatch(
                    method, no, "missing_in_db",
                    f"billed {amount}, db status {stored['status'] if stored else 'absent'}"))
    return ReconcileReport(day, checked, mismatches)


def summary(report: ReconcileReport) -> JsonObject:
    return {"date": report.day, "checked": report.checked,
            "mismatches": len(report.mismatches), "ok": report.ok}
