"""SLA clocks counted in business time: first response, next response, resolution.

A store's calendar is its weekly hours (local time, one window per weekday; a weekday
without a row is closed), holidays (closed all day) and make-up working days (调休: a
weekend day worked with the hours of ``as_weekday``). Store-specific days override the
chain-wide ones (``store = "*"``). A clock's due time is its start plus the policy's
minutes counted only inside open windows; a breach is raised once per clock and due time
and posted to the bridge's alerts (kind ``sla_breach``), which the console shows.

Clocks (``clocks``):
* first response: from the ticket's creation to the first staff message;
* next response: from a shopper's message that waits for an answer (after the first
  response) to the next staff message;
* resolution: from creation to resolved.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge.models import Alert, now
from common.jsontypes import JsonObject

from .models import Conversation
from .models_more import BusinessHours, CalendarDay, SlaBreach, SlaPolicy
from .tickets import ACTIVE

ALL_STORES = "*"
# Targets when neither the store nor the chain configured any (business minutes).
DEFAULT_TARGETS = {"urgent": (15, 15, 240), "high": (30, 30, 480), "normal": (60, 60, 960),
                   "low": (240, 240, 2400)}
# Hours when a store configured none: a service desk's Monday to Friday, 09:00-18:00.
DEFAULT_HOURS = {wd: ("09:00", "18:00") for wd in range(5)}
# Far enough to cross a long holiday (Golden Week is 7 days) plus weekends.
MAX_SEARCH_DAYS = 60


@dataclass(frozen=True, slots=True)
class Calendar:
    tz: ZoneInfo
    hours: dict[int, tuple[time, time]]
    holidays: frozenset[date]
    workdays: dict[date, int]  # make-up working day -> the weekday whose hours it uses

    def window(self, day: date) -> tuple[datetime, datetime] | None:
        """The open window of a local day as UTC-aware datetimes, or None when closed."""
        if day in self.holidays:
            return None
        weekday = self.workdays.get(day, day.weekday())
        hours = self.hours.get(weekday)
        if hours is None:
            return None
        opens = datetime.combine(day, hours[0], self.tz)
        closes = datetime.combine(day, hours[1], self.tz)
        return (opens, closes) if closes > opens else None

    def add(self, start: datetime, minutes: int) -> datetime:
        """``start`` plus ``minutes`` of open time."""
        left = timedelta(minutes=minutes)
        day = start.astimezone(self.tz).date()
        for _ in range(MAX_SEARCH_DAYS * 2):
            win = self.window(day)
            if win is not None:
                begin = max(win[0], start)
                if begin < win[1]:
                    if begin + left <= win[1]:
                        return (begin + left).astimezone(UTC)
                    left -= win[1] - begin
            day += timedelta(days=1)
        raise ValueError("no business hours in the calendar within the search horizon")

    def between(self, a: datetime, b: datetime) -> int:
        """Open minutes between ``a`` and ``b`` (0 when b <= a)."""
        if b <= a:
            return 0
        total = timedelta()
        day = a.astimezone(self.tz).date()
        last = b.astimezone(self.tz).date()
        while day <= last:
            win = self.window(day)
            if win is not None:
                lo, hi = max(win[0], a), min(win[1], b)
                if hi > lo:
                    total += hi - lo
            day += timedelta(days=1)
        return int(total.total_seconds() // 60)


def _hm(text: str) -> time:
    h, m = text.split(":")
    return time(int(h), int(m))


async def calendar(session: AsyncSession, store: str, default_tz: str) -> Calendar:
    rows = (await session.scalars(select(BusinessHours).where(
        BusinessHours.store == store))).all()
    tz = ZoneInfo(rows[0].timezone if rows else default_tz)
    hours = ({r.weekday: (_hm(r.opens), _hm(r.closes)) for r in rows} if rows else
             {wd: (_hm(o), _hm(c)) for wd, (o, c) in DEFAULT_HOURS.items()})
    days = (await session.scalars(select(CalendarDay).where(
        CalendarDay.store.in_((store, ALL_STORES))))).all()
    by_day: dict[str, CalendarDay] = {}
    for d in sorted(days, key=lambda d: d.store != ALL_STORES):  # the store's own win
        by_day[d.day] = d
    holidays = frozenset(date.fromisoformat(k) for k, d in by_day.items() if d.kind == "holiday")
    workdays = {date.fromisoformat(k): (d.as_weekday if d.as_weekday is not None else 0)
                for k, d in by_day.items() if d.kind == "workday"}
    return Calendar(tz, hours, holidays, workdays)


async def targets(session: AsyncSession, store: str, priority: str) -> tuple[int, int, int]:
    rows = (await session.scalars(select(SlaPolicy).where(
        SlaPolicy.priority == priority, or_(SlaPolicy.store == store,
                                            SlaPolicy.store == ALL_STORES)))).all()
    for row in sorted(rows, key=lambda r: r.store == ALL_STORES):
        return row.first_response_min, row.next_response_min, row.resolution_min
    return DEFAULT_TARGETS[priority]


@dataclass(frozen=True, slots=True)
class Clock:
    name: str
    started_at: datetime
    due_at: datetime
    stopped_at: datetime | None

    def breached(self, at: datetime) -> bool:
        return (self.stopped_at or at) > self.due_at

    def as_json(self, at: datetime, cal: Calendar) -> JsonObject:
        end = self.stopped_at or at
        return {"clock": self.name, "started_at": self.started_at.isoformat(),
                "due_at": self.due_at.isoformat(),
                "stopped_at": self.stopped_at.isoformat() if self.stopped_at else None,
                "breached": self.breached(at),
                "business_minutes_used": cal.between(self.started_at, end),
                "business_minutes_left": 0 if end >= self.due_at else
                cal.between(end, self.due_at)}


async def clocks(session: AsyncSession, conv: Conversation, cal: Calendar) -> list[Clock]:
    first, nxt, resolution = await targets(session, conv.store, conv.priority)
    out = [Clock("first_response", conv.created_at, cal.add(conv.created_at, first),
                 conv.first_response_at)]
    if conv.first_response_at is not None and conv.waiting_since is not None:
        out.append(Clock("next_response", conv.waiting_since,
                         cal.add(conv.waiting_since, nxt), None))
    out.append(Clock("resolution", conv.created_at, cal.add(conv.created_at, resolution),
                     conv.resolved_at or conv.closed_at))
    return out


async def sweep_breaches(session: AsyncSession, default_tz: str,
                         at: datetime | None = None) -> list[SlaBreach]:
    """Raise every running clock that is past due and not raised yet (idempotent)."""
    at = at or now()
    found: list[SlaBreach] = []
    cals: dict[str, Calendar] = {}
    convs = (await session.scalars(select(Conversation).where(
        Conversation.status.in_(ACTIVE)))).all()
    for conv in convs:
        if conv.store not in cals:
            cals[conv.store] = await calendar(session, conv.store, default_tz)
        for clock in await clocks(session, conv, cals[conv.store]):
            if clock.stopped_at is not None or at <= clock.due_at:
                continue
            exists = await session.scalar(select(SlaBreach.id).where(
                SlaBreach.conversation_id == conv.id, SlaBreach.clock == clock.name,
                SlaBreach.due_at == clock.due_at))
            if exists:
                continue
            breach = SlaBreach(conversation_id=conv.id, store=conv.store, clock=clock.name,
                               due_at=clock.due_at, breached_at=at)
            session.add(breach)
            session.add(Alert(kind="sla_breach", store=conv.store, created_at=at,
                              detail={"conversation_id": conv.id, "clock": clock.name,
                                      "due_at": clock.due_at.isoformat(),
                                      "priority": conv.priority, "tier": conv.tier}))
            found.append(breach)
    await session.flush()
    return found
