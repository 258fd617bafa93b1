"""Orders: the list (server-side filter, sort, paging, export), detail, refund with confirmation."""

from __future__ import annotations

from datetime import date
from typing import NoReturn, TypedDict

from sqlalchemy import ColumnElement, SQLColumnExpression, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge import orders
from cloud_bridge.errors import Conflict, InvalidRequest, NotFound
from cloud_bridge.models import Order
from common.jsontypes import JsonMapping, JsonObject

from .. import fmt
from ..call import PageCall
from ..jobs import Output, Progress
from .dashboard import visible_stores

PAGE_SIZES = (20, 50, 100)
SORTS: dict[str, tuple[SQLColumnExpression[object], ...]] = {
    "newest": (Order.created_at.desc(), Order.id.desc()),
    "oldest": (Order.created_at.asc(), Order.id.asc()),
    "total_desc": (Order.total.desc(), Order.id.desc()),
    "total_asc": (Order.total.asc(), Order.id.asc()),
    "order_no": (Order.order_no.asc(),),
}
SOURCES = ("kiosk", "mp")


def _date(call: PageCall, name: str) -> str | None:
    value = call.arg(name)
    if value is None:
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError as err:
        raise InvalidRequest(f"{name} must be YYYY-MM-DD") from err


class OrderFilters(TypedDict):
    """The order list's filters, as checked from the query string."""

    store: str | None
    status: str | None
    source: str | None
    date_from: str | None
    date_to: str | None
    q: str | None
    sort: str


def order_filters(call: PageCall) -> OrderFilters:
    """The list's filters from the query string, each checked (and the store scoped)."""
    status = call.arg("status")
    if status is not None and status not in orders.STATUSES:
        raise InvalidRequest("unknown status")
    source = call.arg("source")
    if source is not None and source not in SOURCES:
        raise InvalidRequest("unknown source")
    sort = call.arg("sort", "newest")
    if sort not in SORTS:
        raise InvalidRequest("unknown sort")
    return {"store": call.store_filter(), "status": status, "source": source,
            "date_from": _date(call, "date_from"), "date_to": _date(call, "date_to"),
            "q": call.arg("q"), "sort": sort}


def order_conditions(f: OrderFilters) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = []
    if f["store"] is not None:
        conds.append(Order.store == f["store"])
    if f["status"] is not None:
        conds.append(Order.status == f["status"])
    if f["source"] is not None:
        conds.append(Order.source == f["source"])
    if f["date_from"] is not None:
        conds.append(Order.business_date >= f["date_from"])
    if f["date_to"] is not None:
        conds.append(Order.business_date <= f["date_to"])
    if f["q"]:
        escaped = f["q"].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conds.append(Order.order_no.like(f"%{escaped}%", escape="\\"))
    return conds


async def order_page(call: PageCall) -> tuple[OrderFilters, list[Order], int, int, int]:
    f = order_filters(call)
    size = call.int_arg("size", 50, 1, 200)
    size = size if size in PAGE_SIZES else 50
    page_no = call.int_arg("page", 1, 1, 10**6)
    conds = order_conditions(f)
    async with call.db.session() as s:
        total = int(await s.scalar(select(func.count()).select_from(Order).where(*conds)) or 0)
        rows = (await s.scalars(select(Order).where(*conds).order_by(*SORTS[f["sort"]])
                                .limit(size).offset((page_no - 1) * size))).all()
    return f, list(rows), total, page_no, size


async def order_list(call: PageCall) -> JsonObject:
    f, rows, total, page_no, size = await order_page(call)
    pages = max(1, -(-total // size))
    query: JsonObject = {k: v for k, v in f.items() if v is not None}
    query["size"] = size
    return {"filters": f, "rows": rows, "total": total, "page_no": page_no, "pages": pages,
            "size": size, "query": query, "statuses": orders.STATUSES, "sorts": list(SORTS),
            "sources": SOURCES, "stores": await visible_stores(call), "sizes": PAGE_SIZES}


async def _visible(call: PageCall, session: AsyncSession, order_no: str, lock: bool = False) -> Order:
    """The order if the caller may see it; another store's order is 404 (numbers do not leak)."""
    order = await orders.get_order(session, order_no, lock=lock)
    if not call.principal.chain_wide and order.store != call.principal.store:
        raise NotFound(f"order {order_no} not found")
    return order


async def refundable(session: AsyncSession, order: Order) -> int:
    from cloud_bridge.models import RefundRequest

    pending = await session.scalar(select(func.coalesce(func.sum(RefundRequest.amount), 0)).where(
        RefundRequest.order_id == order.id, RefundRequest.status.in_(orders.OPEN_REFUND)))
    left = order.total - order.refunded_total - int(pending or 0)
    return max(left, 0) if order.status in orders.REFUNDABLE else 0


async def order_detail(call: PageCall) -> JsonObject:
    async with call.db.session() as s:
        order = await _visible(call, s, call.path["order_no"])
        detail = await orders.order_detail(s, order, staff=True)
        left = await refundable(s, order)
    return {"o": detail, "refundable": left, "tz": call.tz(order.store),
            "error": None, "amount_text": "", "reason": ""}


def _refund_input(call: PageCall) -> tuple[int | None, str]:
    amount = fmt.parse_yuan(call.arg("amount", "") or "")
    reason = call.arg("reason", "", max_len=200) or ""
    return amount, reason


async def refund_confirm(call: PageCall) -> JsonObject:
    """Step 1 of a refund: check the input and ask the clerk to confirm amount and order."""
    amount, reason = _refund_input(call)
    async with call.db.session() as s:
        order = await _visible(call, s, call.path["order_no"])
        left = await refundable(s, order)
        detail = await orders.order_detail(s, order, staff=True)
    error = None
    if amount is None or amount < 1:
        error = call.t("order.bad_amount")
    elif amount > left:
        error = f"{call.t('order.refundable')}: {fmt.money(left)}"
    elif not reason:
        error = call.t("order.refund_reason")
    if error:
        return {"o": detail, "refundable": left, "tz": call.tz(order.store), "error": error,
                "amount_text": call.arg("amount", "") or "", "reason": reason, "status": 400,
                "template": "order_detail.html"}
    return {"o": detail, "amount": amount, "reason": reason, "confirming": True}


async def refund_execute(call: PageCall) -> JsonObject:
    """Step 2: store the refund request, execute it through the provider, show the result."""
    amount, reason = _refund_input(call)
    order_no = call.path["order_no"]
    if amount is None or amount < 1 or not reason:
        raise InvalidRequest("amount and reason are needed")
    try:
        async with call.db.session() as s:
            order = await _visible(call, s, order_no, lock=True)
            store = order.store
            req = await orders.request_refund(s, order, amount, reason, call.principal.actor)
            request_id = req.id
            out: JsonMapping = orders.refund_json(req, order.order_no)
    except (Conflict, InvalidRequest) as err:
        await call.audit("refund", order_no, "refused", detail={"amount": amount,
                                                                "error": err.detail})
        raise
    executor = call.services.refunds
    if executor is not None:
        out = await executor.execute(request_id) or out
    outcome = {"succeeded": "ok", "failed": "failed"}.get(str(out["status"]), "ok")
    await call.audit("refund", order_no, outcome, store=store,
                     detail={"amount": amount, "reason": reason, "refund_id": out["id"],
                             "status": out["status"], "out_refund_no": out["out_refund_no"]})
    return {"refund": out, "order_no": order_no, "tz": call.tz(store)}


EXPORT_CHUNK = 2000


async def order_export(call: PageCall) -> NoReturn:
    """Start an export of the filtered orders (CSV or XLSX) as a job with progress."""
    from decimal import Decimal

    from .. import export, jobs

    fmt_name = call.arg("format", "csv")
    if fmt_name not in ("csv", "xlsx"):
        raise InvalidRequest("format must be csv or xlsx")
    f = order_filters(call)
    conds = order_conditions(f)
    limit = call.console_config.export_max_rows
    db, t = call.db, call.t
    tz_of, lang = call.tz, call.lang
    header = [t("order.no"), t("store"), t("kiosk"), t("order.source"), t("status"),
              "currency", t("order.total"), t("order.refunded"), t("order.business_date"),
              t("order.created"), "created_at_utc"]

    async def work(progress: Progress) -> Output:
        async with db.session() as s:
            total = min(int(await s.scalar(
                select(func.count()).select_from(Order).where(*conds)) or 0), limit)
        rows: list[list[object]] = []
        while len(rows) < total:
            async with db.session() as s:
                chunk = (await s.scalars(select(Order).where(*conds).order_by(*SORTS[f["sort"]])
                                         .limit(min(EXPORT_CHUNK, total - len(rows)))
                                         .offset(len(rows)))).all()
            if not chunk:
                break
            for o in chunk:
                money = (lambda fen: Decimal(fen) / 100) if fmt_name == "xlsx" else fmt.yuan_input
                rows.append([o.order_no, o.store, o.kiosk or "", o.source,
                             t(f"st.{o.status}"), o.currency, money(o.total),
                             money(o.refunded_total), o.business_date,
                             fmt.when(o.created_at, tz_of(o.store), seconds=True),
                             o.created_at.isoformat()])
            await progress(len(rows), total)
        name = f"orders-{lang}-{len(rows)}.{fmt_name}"
        if fmt_name == "csv":
            body, kind = export.csv_bytes(header, rows), export.CSV_TYPE
        else:
            body, kind = await export.xlsx_bytes(header, rows, "orders"), export.XLSX_TYPE
        return Output(result={"rows": len(rows)}, file_name=name, file_type=kind, body=body)

    job_id = await jobs.start(call, "export_orders", {**f, "format": fmt_name}, work)
    raise jobs.redirect_to(job_id)
