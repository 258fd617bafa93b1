"""Stock on hand and the alerts staff must look at (oversells, duplicate order numbers)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import NoReturn

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge import inventory, orders
from cloud_bridge.errors import NotFound
from cloud_bridge.models import Alert, Order, OrderLine, Stock
from common.jsontypes import JsonObject

from .. import charts, fmt
from ..call import PageCall
from .dashboard import visible_stores

CHART_ROWS = 12
# Stock cover (days the stock on hand lasts) from the sales of the last four weeks.
COVER_WINDOW_DAYS = 28


async def stock_cover(call: PageCall, session: AsyncSession,
                      store: str | None) -> list[tuple[str, int]]:
    """``(product, tenths of a day)`` of the products that run out first at recent sales."""
    today = datetime.now(fmt.zone(call.tz(store))).date()
    since = (today - timedelta(days=COVER_WINDOW_DAYS)).isoformat()
    units = case((OrderLine.weight_g.is_not(None), OrderLine.weight_g),
                 else_=OrderLine.qty - OrderLine.returned_qty)
    sold_q = (select(Order.store, OrderLine.product_id, func.sum(units).label("sold"))
              .join(Order, Order.id == OrderLine.order_id)
              .where(Order.business_date >= since, Order.business_date <= today.isoformat(),
                     Order.status.in_(orders.SOLD))
              .group_by(Order.store, OrderLine.product_id))
    stock_q = select(Stock.store, Stock.product_id, Stock.on_hand)
    if store is not None:
        sold_q = sold_q.where(Order.store == store)
        stock_q = stock_q.where(Stock.store == store)
    sold = {(r.store, r.product_id): int(r.sold or 0) for r in (await session.execute(sold_q))}
    cover = []
    for row in (await session.execute(stock_q)).all():
        n = sold.get((row.store, row.product_id), 0)
        if n > 0:
            tenths = max(int(row.on_hand), 0) * COVER_WINDOW_DAYS * 10 // n
            label = row.product_id if store else f"{row.store}/{row.product_id}"
            cover.append((label, tenths))
    return sorted(cover, key=lambda c: (c[1], c[0]))[:CHART_ROWS]


async def stock_page(call: PageCall) -> JsonObject:
    store = call.store_filter()
    product = call.ident("product")
    low = call.arg("low") == "1"
    size = 50
    page_no = call.int_arg("page", 1, 1, 10**6)
    conds = []
    if store is not None:
        conds.append(Stock.store == store)
    if product is not None:
        conds.append(Stock.product_id.like(f"%{product}%"))
    if low:
        conds.append(Stock.on_hand <= 0)
    async with call.db.session() as s:
        total = int(await s.scalar(select(func.count()).select_from(Stock).where(*conds)) or 0)
        rows = (await s.scalars(select(Stock).where(*conds)
                                .order_by(Stock.on_hand, Stock.store, Stock.product_id)
                                .limit(size).offset((page_no - 1) * size))).all()
        cover = await stock_cover(call, s, store)
        alerts = (await s.scalars(
            select(Alert).where(Alert.resolved.is_(False),
                                *([Alert.store == store] if store else []))
            .order_by(Alert.id.desc()).limit(100))).all()
    days = call.t("stock.days")
    chart = charts.share_bars(cover, call.t("stock.chart"),
                              lambda v: f"{v // 10}.{v % 10} {days}", percent=False) \
        if cover else None
    query = {"store": store or "", "product": product or "", "low": "1" if low else ""}
    return {"rows": rows, "alerts": [inventory.alert_json(a) for a in alerts],
            "total": total, "page_no": page_no, "pages": max(1, -(-total // size)),
            "query": {k: v for k, v in query.items() if v}, "store": store, "product": product,
            "low": low, "stores": await visible_stores(call), "chart": chart}


async def resolve_alert(call: PageCall) -> NoReturn:
    alert_id = call.path["alert_id"]
    async with call.db.session() as s:
        alert = await s.get(Alert, int(alert_id)) if alert_id.isdigit() else None
        if alert is None:
            raise NotFound(f"alert {alert_id} not found")
        if not call.principal.chain_wide and alert.store != call.principal.store:
            raise NotFound(f"alert {alert_id} not found")
        alert.resolved = True
        store, kind = alert.store, alert.kind
    await call.audit("alert.resolve", f"alert {alert_id}", "ok", store=store,
                     detail={"kind": kind})
    raise call.redirect("/console/stock")
