"""Admin analytics routes (metrics, exports, charts, profiles, forecasts, runs) and the
mini-program behaviour-event route.

Every metric route takes the same filters (period, store, category, channel, grouping) and
serves one table (:func:`.service.metric_table`) as JSON, CSV, XLSX or an SVG chart.
Store staff see their own store only (``store_scope``); head office and chain-wide finance
see every store or the one they name.
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import polars as pl
from aiohttp import web
from sqlalchemy import select

from cloud_bridge import auth
from cloud_bridge.db import Database, get_row
from cloud_bridge.errors import InvalidRequest, NotFound, Unavailable
from cloud_bridge.models import now
from cloud_bridge.openapi import Call, Route
from common.jsontypes import JsonObject

from . import charts, competitors, demographics, events, exports, keywords, metrics, service
from . import schemas as sc
from .events import EventIn
from .models import AnalyticsRun, MemberProfile, WinBackAction

A = "/api/v1/admin/analytics"
METRIC_ROLES = (auth.HEAD_OFFICE, auth.STORE_STAFF, auth.FINANCE)
STAFF_ROLES = (auth.HEAD_OFFICE, auth.STORE_STAFF)
BUYING_ROLES = (auth.HEAD_OFFICE, auth.STORE_STAFF, auth.BUYER)
DEFAULT_DAYS = 7
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
METRIC_PARAM = {"metric": {"type": "string", "enum": list(service.METRICS)}}


def _db(call: Call) -> Database:
    from cloud_bridge.keys import DB_KEY

    return call.app[DB_KEY]


def _day(text: str | None, name: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as err:
        raise InvalidRequest(f"{name}: {text} is not a date") from err


def _period(start: str | None, end: str | None) -> tuple[date, date]:
    e = _day(end, "end") or now().date() - timedelta(days=1)
    s = _day(start, "start") or e - timedelta(days=DEFAULT_DAYS - 1)
    if s > e:
        raise InvalidRequest("start is after end")
    if (e - s).days + 1 > service.MAX_PERIOD_DAYS:
        raise InvalidRequest(f"a period is at most {service.MAX_PERIOD_DAYS} days")
    if s.year < 2000:
        raise InvalidRequest("start is before 2000")
    return s, e


def _metric(call: Call) -> str:
    metric = call.path["metric"]
    if metric not in service.METRICS:
        raise NotFound(f"no metric {metric!r}")
    return metric


async def _metric_frame(call: Call) -> tuple[str, service.Filters, pl.DataFrame]:
    metric = _metric(call)
    q = call.query_as(sc.MetricQuery)
    start, end = _period(q.start, q.end)
    f = service.Filters(start, end, call.principal.store_scope(q.store), q.category, q.channel)
    async with _db(call).session() as s:
        frame = await service.metric_table(s, metric, f, by=q.by)
    return metric, f, frame


async def get_metric(call: Call) -> JsonObject:
    """One metric as a table (columns + rows) for the period and filters."""
    metric, f, frame = await _metric_frame(call)
    return {"metric": metric, "start": f.start.isoformat(), "end": f.end.isoformat(),
            "store": f.store, **exports.table(frame)}


def _filename(metric: str, f: service.Filters, ext: str) -> str:
    return f"{metric}_{f.store or 'all'}_{f.start}_{f.end}.{ext}"


async def export_metric_csv(call: Call) -> web.Response:
    """The metric's table as CSV (UTF-8 with BOM)."""
    metric, f, frame = await _metric_frame(call)
    return web.Response(body=exports.to_csv(frame), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition":
                                 f'attachment; filename="{_filename(metric, f, "csv")}"'})


async def export_metric_xlsx(call: Call) -> web.Response:
    """The metric's table as an Excel workbook."""
    metric, f, frame = await _metric_frame(call)
    return web.Response(body=exports.to_xlsx(frame, metric), content_type=XLSX,
                        headers={"Content-Disposition":
                                 f'attachment; filename="{_filename(metric, f, "xlsx")}"'})


async def metric_chart(call: Call) -> web.Response:
    """The metric's main figure as an SVG bar chart (the console embeds it)."""
    metric, f, frame = await _metric_frame(call)
    subtitle = f"{f.store or '全部门店 all stores'} {f.start} – {f.end}"
    return web.Response(text=exports.chart_svg(frame, metric, subtitle),
                        content_type="image/svg+xml")


async def metric_chart_png(call: Call) -> web.Response:
    """The metric's chart as a PNG image (trend lines for days, bars otherwise)."""
    metric, f, frame = await _metric_frame(call)
    subtitle = f"{f.store or '全部门店 all stores'} {f.start} – {f.end}"
    try:  # matplotlib draws in a thread: a chart never stalls the event loop
        png = await asyncio.to_thread(charts.chart_png, frame, metric, subtitle)
    except charts.ChartError as err:
        raise Unavailable(str(err)) from err
    return web.Response(body=png, content_type="image/png", headers={
        "Content-Disposition": f'inline; filename="{_filename(metric, f, "png")}"'})


async def _demographics(call: Call) -> tuple[sc.DemographicsQuery, str | None, pl.DataFrame,
                                              int]:
    q = call.query_as(sc.DemographicsQuery)
    store = call.principal.store_scope(q.store)
    async with _db(call).session() as s:
        try:
            frame, withheld = await service.demographic_table(
                s, q.by, store=store, segment=q.segment, min_group=q.min_group)
        except demographics.TooFewMembers as err:
            raise InvalidRequest(str(err)) from err
    return q, store, frame, withheld


async def get_demographics(call: Call) -> JsonObject:
    """Members by gender, age band or region (opt-in only), every group >= min_group."""
    q, store, frame, withheld = await _demographics(call)
    return {"by": q.by, "store": store, "min_group": q.min_group,
            "withheld_groups": withheld, **exports.table(frame)}


async def demographics_chart_png(call: Call) -> web.Response:
    """Members per group of the demographics table as a PNG bar chart."""
    q, store, frame, _ = await _demographics(call)
    subtitle = f"{store or '全部门店 all stores'} · ≥ {q.min_group}"
    try:
        png = await asyncio.to_thread(charts.chart_png, frame, f"demographics_{q.by}",
                                      subtitle, value="members")
    except charts.ChartError as err:
        raise Unavailable(str(err)) from err
    return web.Response(body=png, content_type="image/png")


async def campaign_effect(call: Call) -> JsonObject:
    """Revenue, discount cost, incremental revenue and ROI of a campaign."""
    b = call.body_as(sc.CampaignBody)
    start, end = _period(b.start, b.end)
    stores = tuple(b.stores)
    for store in (*stores, *b.control_stores):
        call.principal.check_store(store)
    if not stores and not call.principal.chain_wide and call.principal.store is not None:
        stores = (call.principal.store,)
    campaign = metrics.Campaign(start, end, tuple(b.products), stores,
                                tuple(b.control_stores), b.cost)
    prev = metrics.previous_period(start, end)[0]
    async with _db(call).session() as s:
        daily = await service.sales_facts(s, service.Filters(start, end), prev)
    return exports.table(metrics.campaign_effect(daily, campaign))


def _profile(p: MemberProfile) -> JsonObject:
    return {c: exports._cell(getattr(p, c)) for c in PROFILE_COLUMNS}


PROFILE_COLUMNS = ("member_id", "segment", "r_score", "f_score", "m_score", "orders",
                   "revenue", "recency_days", "ltv", "preferred_category", "preferred_store",
                   "promo_share", "expected_gap_days", "p_alive", "churned", "first_date",
                   "last_date")


async def list_members(call: Call) -> JsonObject:
    """Member profiles (RFM segment, LTV, preferences, churn), highest LTV first."""
    q = call.query_as(sc.MembersQuery)
    store = call.principal.store_scope(q.store)
    async with _db(call).session() as s:
        found = await service.member_profiles(s, segment=q.segment, churned=q.churned,
                                              store=store, limit=q.limit, offset=q.offset)
    return {"columns": list(PROFILE_COLUMNS), "rows": [_profile(p) for p in found]}


async def list_segments(call: Call) -> JsonObject:
    """Members, churned members, revenue and average LTV per RFM segment."""
    store = call.principal.store_scope(call.query_as(sc.StoreQuery).store)
    async with _db(call).session() as s:
        return exports.table(await service.segment_counts(s, store))


async def list_win_back(call: Call) -> JsonObject:
    """Win-back coupons asked of marketing for churned members (newest first)."""
    async with _db(call).session() as s:
        found = (await s.scalars(select(WinBackAction).order_by(WinBackAction.id.desc())
                                 .limit(call.query_as(sc.ListQuery).limit))).all()
    cols = ["member_id", "period", "segment", "coupon_fen", "reason", "status"]
    return {"columns": cols, "rows": [{c: getattr(a, c) for c in cols} for a in found]}


async def list_basket_rules(call: Call) -> JsonObject:
    """Market-basket rules A -> B by lift (support, confidence, lift, baskets)."""
    q = call.query_as(sc.ListQuery)
    async with _db(call).session() as s:
        found = await service.basket_rules(s, q.limit, q.product_id)
    cols = ["antecedent", "consequent", "support", "confidence", "lift", "baskets"]
    return {"columns": cols, "rows": [{c: getattr(r, c) for c in cols} for r in found]}


async def keyword_report(call: Call) -> JsonObject:
    """Top, rising and zero-result search keywords of the period (jieba-segmented)."""
    q = call.query_as(sc.PeriodQuery)
    start, end = _period(q.start, q.end)
    prev = metrics.previous_period(start, end)[0]
    async with _db(call).session() as s:
        frame = await events.searches(s, prev, end)
    report = keywords.keyword_report(frame, start, end, q.limit)
    return {"start": start.isoformat(), "end": end.isoformat(),
            **{k: exports.table(v) for k, v in report.items()}}


async def list_forecasts(call: Call) -> JsonObject:
    """Forecast daily units per product of a store, with 90 % intervals."""
    q = call.query_as(sc.ForecastQuery)
    store = call.principal.store_scope(q.store)
    if store is None:
        raise InvalidRequest("name a store")
    async with _db(call).session() as s:
        found = await service.forecast_demand(s, store, [q.product_id] if q.product_id
                                              else None, q.days)
    cols = ["store", "product_id", "business_date", "units", "lo", "hi", "method"]
    return {"columns": cols,
            "rows": [{c: exports._cell(getattr(f, c)) for c in cols} for f in found[:q.limit]]}


async def import_competitor_prices(call: Call) -> JsonObject:
    """Import a competitor's price list (CSV: barcode, price in yuan, observed_on)."""
    competitor = call.path["competitor"]
    try:
        text = (await call.request.read()).decode("utf-8")
    except UnicodeDecodeError as err:
        raise InvalidRequest("the price list is not UTF-8 text") from err
    async with _db(call).session() as s:
        n = await competitors.import_price_list(s, competitor, text)
    return {"competitor": competitor, "rows": n}


async def price_index(call: Call) -> JsonObject:
    """Price index per category against competitors, and products above the market."""
    async with _db(call).session() as s:
        index, above = await competitors.competitor_report(s)
    return {"categories": exports.table(index), "above_market": exports.table(above)}


def _run(r: AnalyticsRun) -> JsonObject:
    return {"id": r.id, "period": r.period, "trigger": r.trigger, "status": r.status,
            "step": r.step, "progress": r.progress, "started_at": r.started_at.isoformat(),
            "finished_at": r.finished_at.isoformat() if r.finished_at else None,
            "requested_by": r.requested_by,
            "detail": r.detail, "error": r.error}


async def start_run(call: Call) -> JsonObject:
    """Start the analytics job now (progress: GET .../runs/{run_id}); 409 if one runs."""
    from .runtime import RUNTIME_KEY

    as_of = _day(call.body_as(sc.RunBody).as_of, "as_of") or now().date() - timedelta(days=1)
    run_id = await call.app[RUNTIME_KEY].start(as_of, call.principal.actor)
    async with _db(call).session() as s:
        return _run(await get_row(s, AnalyticsRun, run_id))


async def list_runs(call: Call) -> JsonObject:
    """The latest analytics runs with their progress."""
    async with _db(call).session() as s:
        return {"runs": [_run(r) for r in await service.latest_runs(s, call.query_as(sc.RunsQuery).limit)]}


async def get_run(call: Call) -> JsonObject:
    """One analytics run: step, progress (0..1), seconds and rows per step when done."""
    async with _db(call).session() as s:
        r = await s.get(AnalyticsRun, int(call.path["run_id"]))
    if r is None:
        raise NotFound(f"no run {call.path['run_id']}")
    return _run(r)


async def post_mp_events(call: Call) -> JsonObject:
    """Mini-program behaviour events (page views, searches, shares, entry channels)."""
    b = call.body_as(sc.MpEventsBody)
    latest = now() + timedelta(days=1)
    rows: list[EventIn] = []
    for e in b.events:
        if e.at.year < 2000 or e.at > latest:
            raise InvalidRequest(f"event {e.event_id}: at {e.at.isoformat()} is out of range")
        rows.append(EventIn(event_id=e.event_id, type=e.type, at=e.at, session_id=e.session_id,
                            store=e.store, page=e.page, keyword=e.keyword,
                            result_count=e.result_count, channel=e.channel,
                            campaign=e.campaign, v=b.v, openid=call.openid,
                            detail={"sharer": e.sharer} if e.sharer else None))
    async with _db(call).session() as s:
        stored, dup = await events.store_events(s, rows, "mp")
    return {"stored": stored, "duplicates": dup}


ROUTES = [
    Route("GET", A + "/metrics/{metric}", get_metric, "Analytics metric table", "analytics",
          auth="admin", roles=METRIC_ROLES, query=sc.MetricQuery, response=sc.MetricTable,
          path_params=METRIC_PARAM),
    Route("GET", A + "/metrics/{metric}/csv", export_metric_csv, "Analytics metric as CSV",
          "analytics", auth="admin", roles=METRIC_ROLES, query=sc.MetricQuery, raw=True,
          response_type="text/csv", response={"type": "string"}, path_params=METRIC_PARAM),
    Route("GET", A + "/metrics/{metric}/xlsx", export_metric_xlsx, "Analytics metric as XLSX",
          "analytics", auth="admin", roles=METRIC_ROLES, query=sc.MetricQuery, raw=True,
          response_type=XLSX, response={"type": "string", "format": "binary"},
          path_params=METRIC_PARAM),
    Route("GET", A + "/metrics/{metric}/chart", metric_chart, "Analytics metric chart (SVG)",
          "analytics", auth="admin", roles=METRIC_ROLES, query=sc.MetricQuery, raw=True,
          response_type="image/svg+xml", response={"type": "string"},
          path_params=METRIC_PARAM),
    Route("GET", A + "/metrics/{metric}/chart.png", metric_chart_png,
          "Analytics metric chart (PNG)", "analytics", auth="admin", roles=METRIC_ROLES,
          query=sc.MetricQuery, raw=True, response_type="image/png",
          response={"type": "string", "format": "binary"}, path_params=METRIC_PARAM),
    Route("POST", A + "/campaign-effect", campaign_effect, "Campaign effect and ROI",
          "analytics", auth="admin", roles=METRIC_ROLES, body=sc.CampaignBody,
          response=sc.Table),
    Route("GET", A + "/demographics", get_demographics,
          "Member demographics (opt-in fields, minimum group size)", "analytics",
          auth="admin", roles=STAFF_ROLES, query=sc.DemographicsQuery,
          response=sc.DemographicsTable),
    Route("GET", A + "/demographics/chart.png", demographics_chart_png,
          "Member demographics chart (PNG)", "analytics", auth="admin", roles=STAFF_ROLES,
          query=sc.DemographicsQuery, raw=True, response_type="image/png",
          response={"type": "string", "format": "binary"}),
    Route("GET", A + "/members", list_members, "Member profiles (RFM, LTV, churn)",
          "analytics", auth="admin", roles=STAFF_ROLES, query=sc.MembersQuery,
          response=sc.Table),
    Route("GET", A + "/segments", list_segments, "RFM segments", "analytics", auth="admin",
          roles=STAFF_ROLES, query=sc.StoreQuery, response=sc.Table),
    Route("GET", A + "/win-back", list_win_back, "Win-back coupons for churned members",
          "analytics", auth="admin", roles=(auth.HEAD_OFFICE,), query=sc.ListQuery,
          response=sc.Table),
    Route("GET", A + "/basket-rules", list_basket_rules, "Market-basket rules", "analytics",
          auth="admin", roles=STAFF_ROLES, query=sc.ListQuery, response=sc.Table),
    Route("GET", A + "/keywords", keyword_report, "Search keywords: top, rising, zero-result",
          "analytics", auth="admin", roles=STAFF_ROLES, query=sc.PeriodQuery,
          response=sc.KeywordReport),
    Route("GET", A + "/forecasts", list_forecasts, "Demand forecasts (14 days, intervals)",
          "analytics", auth="admin", roles=BUYING_ROLES, query=sc.ForecastQuery,
          response=sc.Table),
    Route("POST", A + "/competitors/{competitor}/prices", import_competitor_prices,
          "Import a competitor price list (CSV)", "analytics", auth="admin",
          roles=(auth.HEAD_OFFICE, auth.BUYER),
          raw_body=("text/plain", {"type": "string", "description": "CSV text"}),
          status=201, response=sc.Imported),
    Route("GET", A + "/competitors/price-index", price_index, "Price index vs competitors",
          "analytics", auth="admin", roles=(auth.HEAD_OFFICE, auth.BUYER),
          response=sc.PriceIndex),
    Route("POST", A + "/runs", start_run, "Run the analytics job now", "analytics",
          auth="admin", roles=(auth.HEAD_OFFICE,), body=sc.RunBody, status=202,
          response=sc.Run),
    Route("GET", A + "/runs", list_runs, "Analytics runs and progress", "analytics",
          auth="admin", roles=METRIC_ROLES, query=sc.RunsQuery, response=sc.Runs),
    Route("GET", A + "/runs/{run_id}", get_run, "One analytics run", "analytics",
          auth="admin", roles=METRIC_ROLES, response=sc.Run,
          path_params={"run_id": {"type": "integer", "minimum": 1}}),
    Route("POST", "/api/v1/mp/analytics/events", post_mp_events, "Behaviour events",
          "mini-program", auth="mp", body=sc.MpEventsBody, response=sc.EventsStored),
]
