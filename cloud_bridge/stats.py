"""Order statistics per store and business day (ORD-7): count, revenue, AOV, refunds.

Revenue counts every order that was paid (refunded ones included, so that
``net = revenue - refunds`` adds up); refunds are attributed to the order's day.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from common.jsontypes import JsonObject

from .models import Order
from .orders import SOLD


async def daily_stats(
    session: AsyncSession, *, store: str | None, date_from: str | None, date_to: str | None,
) -> list[JsonObject]:
    conds: list[ColumnElement[bool]] = [Order.status.in_(SOLD)]
    if store is not None:
        conds.append(Order.store == store)
    if date_from is not None:
        conds.append(Order.business_date >= date_from)
    if date_to is not None:
        conds.append(Order.business_date <= date_to)
    q = (
        select(
            Order.store, Order.business_date, Order.currency,
            func.count().label("orders"),
            func.coalesce(func.sum(Order.total), 0).label("revenue"),
            func.coalesce(func.sum(Order.refunded_total), 0).label("refunds"),
            func.coalesce(func.sum(case((Order.refunded_total > 0, 1), else_=0)), 0)
            .label("refunded_orders"),
        )
        .where(*conds)
        .group_by(Order.store, Order.business_date, Order.currency)
        .order_by(Order.business_date, Order.store, Order.currency)
    )
    out: list[JsonObject] = []
    for row in (await session.execute(q)).all():
        orders, revenue, refunds = int(row.orders), int(row.revenue), int(row.refunds)
        out.append({
            "store": row.store, "date": row.business_date, "currency": row.currency,
            "orders": orders, "revenue": revenue,
            # Integer fen, rounded half up: money never becomes a float.
            "average_order_value": (revenue * 2 + orders) // (orders * 2) if orders else 0,
            "refunds": refunds, "refunded_orders": int(row.refunded_orders),
            "net_revenue": revenue - refunds,
        })
    return out
