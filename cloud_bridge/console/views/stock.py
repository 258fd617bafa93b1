"""Stock on hand and the alerts staff must look at (oversells, duplicate order numbers)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from cloud_bridge import inventory
from cloud_bridge.errors import NotFound
from cloud_bridge.models import Alert, Stock

from .. import charts
from ..call import PageCall
from .dashboard import visible_stores

CHART_ROWS = 12


async def stock_page(call: PageCall) -> dict[str, Any]:
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
        alerts = (await s.scalars(
            select(Alert).where(Alert.resolved.is_(False),
                                *([Alert.store == store] if store else []))
            .order_by(Alert.id.desc()).limit(100))).all()
    least = [(f"{r.product_id}" if store else f"{r.store}/{r.product_id}", max(r.on_hand, 0))
             for r in rows[:CHART_ROWS]]
    chart = charts.share_bars(least, call.t("stock.chart"), str) if least else None
    query = {"store": store or "", "product": product or "", "low": "1" if low else ""}
    return {"rows": rows, "alerts": [inventory.alert_json(a) for a in alerts],
            "total": total, "page_no": page_no, "pages": max(1, -(-total // size)),
            "query": {k: v for k, v in query.items() if v}, "store": store, "product": product,
            "low": low, "stores": await visible_stores(call), "chart": chart}


async def resolve_alert(call: PageCall) -> Any:
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
