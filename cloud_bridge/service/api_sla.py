"""Routes of SLA policies and calendars, ticket clocks, CSAT and the monthly reports."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import Field, StringConstraints
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge import auth
from cloud_bridge.errors import NotFound
from cloud_bridge.openapi import (
    ISO_DATE_PATTERN,
    Call,
    QueryModel,
    RequestModel,
    Route,
    ShortText,
    Text,
)
from common.jsontypes import JsonObject

from . import reports, schemas, sla
from .api_common import ID_SCHEMA, TAG, A, M, db, my_conversation, path_id, staff_ticket, tz
from .models_more import BusinessHours, CalendarDay, SlaPolicy

HourMinute = Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]
Month = Annotated[str, StringConstraints(pattern=r"^20\d{2}-(0[1-9]|1[0-2])$")]
STORE_OR_ALL = {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$",
                "description": "a store, or `all` for every store (head office)"}


def _store(call: Call) -> str:
    """The path's store (``all``: chain-wide, head office only)."""
    store = call.path["store"]
    if store == "all":
        if not call.principal.chain_wide:
            call.principal.check_store(store)
        return sla.ALL_STORES
    call.principal.check_store(store)
    return store


class PolicyBody(RequestModel):
    priority: schemas.Priority
    first_response_min: int = Field(ge=1, le=100000)
    next_response_min: int = Field(ge=1, le=100000)
    resolution_min: int = Field(ge=1, le=1000000)


class HoursBody(RequestModel):
    weekday: int = Field(ge=0, le=6, description="0 = Monday")
    opens: HourMinute
    closes: HourMinute


class SlaBody(RequestModel):
    timezone: Literal["Asia/Shanghai", "Asia/Hong_Kong", "Asia/Taipei", "Asia/Macau",
                      "UTC"] = "Asia/Shanghai"
    policies: list[PolicyBody] = Field(max_length=4)
    hours: list[HoursBody] = Field(max_length=7)


async def _config(s: AsyncSession, store: str) -> JsonObject:
    pols = (await s.scalars(select(SlaPolicy).where(SlaPolicy.store == store)
                            .order_by(SlaPolicy.priority))).all()
    hours = (await s.scalars(select(BusinessHours).where(BusinessHours.store == store)
                             .order_by(BusinessHours.weekday))).all()
    days = (await s.scalars(select(CalendarDay).where(CalendarDay.store == store)
                            .order_by(CalendarDay.day))).all()
    return {"store": store,
            "timezone": hours[0].timezone if hours else None,
            "policies": [{"priority": p.priority, "first_response_min": p.first_response_min,
                          "next_response_min": p.next_response_min,
                          "resolution_min": p.resolution_min} for p in pols],
            "hours": [{"weekday": h.weekday, "opens": h.opens, "closes": h.closes}
                      for h in hours],
            "days": [{"day": d.day, "kind": d.kind, "name": d.name,
                      "as_weekday": d.as_weekday} for d in days]}


async def get_sla(call: Call) -> JsonObject:
    """A store's (or the chain's) SLA targets, business hours and calendar days."""
    store = _store(call)
    async with db(call).session() as s:
        return await _config(s, store)


async def put_sla(call: Call) -> JsonObject:
    """Replace a store's SLA targets and weekly business hours."""
    store, b = _store(call), call.body_as(SlaBody)
    if len({p.priority for p in b.policies}) != len(b.policies) or len(
            {h.weekday for h in b.hours}) != len(b.hours):
        from cloud_bridge.errors import InvalidRequest

        raise InvalidRequest("one policy per priority and one window per weekday")
    async with db(call).session() as s:
        await s.execute(delete(SlaPolicy).where(SlaPolicy.store == store))
        await s.execute(delete(BusinessHours).where(BusinessHours.store == store))
        await s.flush()
        for p in b.policies:
            s.add(SlaPolicy(store=store, **p.model_dump()))
        for h in b.hours:
            s.add(BusinessHours(store=store, timezone=b.timezone, **h.model_dump()))
        await s.flush()
        return await _config(s, store)


class DayBody(RequestModel):
    kind: Literal["holiday", "workday"]
    name: ShortText
    as_weekday: int | None = Field(default=None, ge=0, le=6,
                                   description="a make-up working day uses these hours")


async def put_day(call: Call) -> JsonObject:
    """Mark a local day as a holiday or a make-up working day (调休)."""
    store, b, day = _store(call), call.body_as(DayBody), call.path["day"]
    try:
        date.fromisoformat(day)
    except ValueError as err:
        raise NotFound(f"no day {day}") from err
    async with db(call).session() as s:
        row = await s.get(CalendarDay, (store, day))
        if row is None:
            row = CalendarDay(store=store, day=day)
            s.add(row)
        row.kind, row.name = b.kind, b.name
        row.as_weekday = b.as_weekday if b.kind == "workday" else None
        await s.flush()
        return await _config(s, store)


async def ticket_sla(call: Call) -> JsonObject:
    """The ticket's clocks: due times in business time, used and left minutes, breaches."""
    async with db(call).session() as s:
        conv = await staff_ticket(s, call, path_id(call, "ticket_id"))
        cal = await sla.calendar(s, conv.store, tz(call))
        at = sla.now()
        return {"ticket_id": conv.id, "priority": conv.priority,
                "clocks": [c.as_json(at, cal) for c in await sla.clocks(s, conv, cal)]}


async def sweep(call: Call) -> dict[str, int]:
    """Run the SLA sweep now (it also runs every minute by itself)."""
    from .jobs import sweep_once

    return await sweep_once(db(call), tz(call))


class ReportQuery(QueryModel):
    store: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")] | None = None
    month: Month


async def csat_report(call: Call) -> JsonObject:
    """CSAT of a month per store and per agent."""
    q = call.query_as(ReportQuery)
    store = call.principal.store_scope(q.store)
    async with db(call).session() as s:
        return await reports.csat_report(s, store=store, month=q.month, tz=tz(call))


async def complaints_report(call: Call) -> JsonObject:
    """Complaints and suggestions of a month by store, kind and category."""
    q = call.query_as(ReportQuery)
    store = call.principal.store_scope(q.store)
    async with db(call).session() as s:
        return await reports.complaints_report(s, store=store, month=q.month, tz=tz(call))


class CsatBody(RequestModel):
    score: int = Field(ge=1, le=5)
    comment: Text | None = None


async def rate(call: Call) -> JsonObject:
    """Rate my resolved conversation 1-5 with an optional comment (once)."""
    async with db(call).session() as s:
        conv = await my_conversation(s, call, path_id(call, "conversation_id"))
        b = call.body_as(CsatBody)
        row = await reports.rate(s, conv, b.score, b.comment)
        return {"conversation_id": row.conversation_id, "score": row.score,
                "comment": row.comment, "at": row.at.isoformat()}


S = {"store": STORE_OR_ALL}
ROUTES = [
    Route("GET", f"{A}/stores/{{store}}/sla", get_sla, "SLA targets and calendar", TAG,
          auth="admin", path_params=S, response=schemas.SvcSlaConfig),
    Route("PUT", f"{A}/stores/{{store}}/sla", put_sla, "Set SLA targets and business hours",
          TAG, auth="admin", path_params=S, body=SlaBody, response=schemas.SvcSlaConfig),
    Route("PUT", f"{A}/stores/{{store}}/calendar/{{day}}", put_day,
          "Mark a holiday or make-up working day", TAG, auth="admin",
          path_params={**S, "day": {"type": "string", "format": "date",
                                    "pattern": ISO_DATE_PATTERN}},
          body=DayBody, response=schemas.SvcSlaConfig),
    Route("GET", f"{A}/tickets/{{ticket_id}}/sla", ticket_sla, "A ticket's SLA clocks", TAG,
          auth="admin", path_params={"ticket_id": ID_SCHEMA}, response=schemas.SvcTicketSla),
    Route("POST", f"{A}/sla/sweep", sweep, "Raise SLA breaches now", TAG, auth="admin",
          roles=(auth.HEAD_OFFICE,), response=schemas.SvcSweep),
    Route("GET", f"{A}/reports/csat", csat_report, "CSAT per store and agent", TAG,
          auth="admin", query=ReportQuery, response=schemas.SvcCsatReport),
    Route("GET", f"{A}/reports/complaints", complaints_report,
          "Complaints and suggestions by category", TAG, auth="admin", query=ReportQuery,
          response=schemas.SvcComplaintsReport),
    Route("POST", f"{M}/conversations/{{conversation_id}}/csat", rate,
          "Rate my resolved conversation", TAG, auth="mp",
          path_params={"conversation_id": ID_SCHEMA}, body=CsatBody, status=201,
          response=schemas.SvcCsat),
]
