"""Payments of a business day by method and status, and reconciliation against the bills."""

from __future__ import annotations

from datetime import date, timedelta
from typing import NoReturn

from sqlalchemy import func, select

from cloud_bridge.errors import InvalidRequest
from cloud_bridge.payments.models import Payment
from common.jsontypes import JsonObject

from ..call import PageCall
from .dashboard import business_day, visible_stores

SIZE = 50
MAX_DAYS = 31


async def payments_page(call: PageCall) -> JsonObject:
    store = call.store_filter()
    day = business_day(call, store)
    method = call.ident("method")
    page_no = call.int_arg("page", 1, 1, 10**6)
    conds = [Payment.business_date == day]
    if store is not None:
        conds.append(Payment.store == store)
    if method is not None:
        conds.append(Payment.method == method)
    async with call.db.session() as s:
        total = int(await s.scalar(select(func.count()).select_from(Payment).where(*conds)) or 0)
        rows = (await s.scalars(select(Payment).where(*conds).order_by(Payment.id.desc())
                                .limit(SIZE).offset((page_no - 1) * SIZE))).all()
        sums = (await s.execute(
            select(Payment.method, Payment.status, Payment.currency, func.count(),
                   func.coalesce(func.sum(Payment.amount), 0),
                   func.coalesce(func.sum(Payment.refunded), 0))
            .where(*conds).group_by(Payment.method, Payment.status, Payment.currency)
            .order_by(Payment.method, Payment.status))).all()
    query = {k: v for k, v in {"store": store, "date": day, "method": method}.items() if v}
    return {"rows": rows, "sums": sums, "day": day, "store": store, "method": method,
            "stores": await visible_stores(call), "total": total, "page_no": page_no,
            "pages": max(1, -(-total // SIZE)), "query": query,
            "configured": call.services.payments is not None}


async def reconcile_start(call: PageCall) -> NoReturn:
    """Reconcile each day of a range against every provider's bill, as a job with progress."""
    from cloud_bridge.payments.reconcile import reconcile_day

    from .. import jobs

    service = call.services.payments
    if service is None:
        raise InvalidRequest(call.t("pay.not_configured"))
    try:
        first = date.fromisoformat(call.arg("date_from") or "")
        last = date.fromisoformat(call.arg("date_to") or call.arg("date_from") or "")
    except ValueError as err:
        raise InvalidRequest("dates must be YYYY-MM-DD") from err
    if last < first or (last - first).days >= MAX_DAYS:
        raise InvalidRequest(f"a range of 1 to {MAX_DAYS} days")
    days = [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]
    audit = call.audit

    async def work(progress: jobs.Progress) -> jobs.Output:
        out: list[JsonObject] = []
        bad = 0
        await progress(0, len(days), force=True)
        for i, day in enumerate(days, 1):
            report = await reconcile_day(service, day)
            out.append({"day": day, "checked": report.checked,
                        "mismatches": [m.__dict__ for m in report.mismatches]})
            bad += len(report.mismatches)
            await progress(i, len(days))
        await audit("payments.reconcile", f"{days[0]}..{days[-1]}", "ok",
                    detail={"days": len(days), "mismatches": bad})
        return jobs.Output(result={"days": out, "mismatches": bad})

    job_id = await jobs.start(call, "reconcile", {"from": days[0], "to": days[-1]}, work)
    raise jobs.redirect_to(job_id)
