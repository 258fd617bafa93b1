"""Refund requests and returns/exchanges, newest first, in the caller's stores."""

from __future__ import annotations

from sqlalchemy import func, select

from cloud_bridge.errors import InvalidRequest
from cloud_bridge.models import Order, RefundRequest, ReturnRecord
from common.jsontypes import JsonObject

from ..call import PageCall
from .dashboard import visible_stores

STATUSES = ("requested", "processing", "succeeded", "failed")
SIZE = 50


async def refunds_page(call: PageCall) -> JsonObject:
    store = call.store_filter()
    status = call.arg("status")
    if status is not None and status not in STATUSES:
        raise InvalidRequest("unknown status")
    page_no = call.int_arg("page", 1, 1, 10**6)
    conds = ([Order.store == store] if store else []) + (
        [RefundRequest.status == status] if status else [])
    async with call.db.session() as s:
        total = int(await s.scalar(select(func.count()).select_from(RefundRequest)
                                   .join(Order, Order.id == RefundRequest.order_id)
                                   .where(*conds)) or 0)
        refunds = (await s.execute(
            select(RefundRequest, Order.order_no, Order.store)
            .join(Order, Order.id == RefundRequest.order_id).where(*conds)
            .order_by(RefundRequest.id.desc()).limit(SIZE).offset((page_no - 1) * SIZE))).all()
        returns = (await s.execute(
            select(ReturnRecord, Order.order_no, Order.store)
            .join(Order, Order.id == ReturnRecord.order_id)
            .where(*([Order.store == store] if store else []))
            .order_by(ReturnRecord.id.desc()).limit(SIZE))).all()
    query = {k: v for k, v in {"store": store, "status": status}.items() if v}
    return {"refunds": refunds, "returns": returns, "store": store, "status_": status,
            "statuses": STATUSES, "stores": await visible_stores(call), "total": total,
            "page_no": page_no, "pages": max(1, -(-total // SIZE)), "query": query}
