"""The analytics console page: a metric's table and chart for a period, store and grouping."""

from __future__ import annotations

import asyncio

import polars as pl
from aiohttp import web
from markupsafe import Markup

from cloud_bridge.console.call import PageCall
from cloud_bridge.console.views.dashboard import visible_stores
from cloud_bridge.errors import InvalidRequest, NotFound, Unavailable
from common.jsontypes import JsonObject

from .. import charts, exports, service
from ..api import _period

BYS = ("store", "day", "channel", "kiosk", "method")


async def _table(call: PageCall) -> tuple[str, service.Filters, str | None, pl.DataFrame]:
    metric = call.arg("metric", "sales_by_store") or "sales_by_store"
    if metric not in service.METRICS:
        raise NotFound(f"no metric {metric!r}")
    by = call.arg("by")
    if by is not None and by not in BYS:
        raise InvalidRequest(f"by must be one of {', '.join(BYS)}")
    start, end = _period(call.arg("start"), call.arg("end"))
    f = service.Filters(start, end, call.store_filter())
    async with call.db.session() as s:
        frame = await service.metric_table(s, metric, f, by=by)
    return metric, f, by, frame


def _subtitle(f: service.Filters) -> str:
    return f"{f.store or '全部门店 all stores'} {f.start} – {f.end}"


async def metrics_page(call: PageCall) -> JsonObject:
    metric, f, by, frame = await _table(call)
    query = {"metric": metric, "start": f.start.isoformat(), "end": f.end.isoformat(),
             **({"store": f.store} if f.store else {}), **({"by": by} if by else {})}
    return {
        "metric": metric, "metrics": service.METRICS, "bys": BYS, "by": by,
        "start": f.start.isoformat(), "end": f.end.isoformat(), "store": f.store,
        "stores": await visible_stores(call), "columns": frame.columns,
        "rows": exports.rows(frame), "money_cols": exports.MONEY, "rate_cols": charts.RATES,
        # Our own SVG: every text in it is escaped by chart_svg.
        "chart": Markup(exports.chart_svg(frame, metric, _subtitle(f))), "query": query,
    }


async def metric_png(call: PageCall) -> web.Response:
    metric, f, _, frame = await _table(call)
    try:
        png = await asyncio.to_thread(charts.chart_png, frame, metric, _subtitle(f))
    except charts.ChartError as err:
        raise Unavailable(str(err)) from err
    return web.Response(body=png, content_type="image/png")
