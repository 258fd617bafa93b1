"""CSAT (asked after resolution; reported per store and agent) and the monthly report of
complaints and suggestions by category."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge.errors import Conflict
from cloud_bridge.models import now
from common.jsontypes import JsonObject

from .models import Conversation, Message
from .models_more import Csat
from .tickets import Kind, Status


async def rate(session: AsyncSession, conv: Conversation, score: int,
               comment: str | None) -> Csat:
    """The shopper's rating of a resolved (or closed) ticket; once per ticket."""
    if conv.status not in (Status.RESOLVED, Status.CLOSED):
        raise Conflict(f"conversation {conv.id} is {conv.status}; rate it once resolved")
    if await session.get(Csat, conv.id) is not None:
        raise Conflict(f"conversation {conv.id} is rated already")
    agent = conv.assignee
    if agent is None:  # whoever answered last
        last = await session.scalar(select(Message.sender).where(
            Message.conversation_id == conv.id, Message.sender_kind == "staff")
            .order_by(Message.seq.desc()).limit(1))
        agent = last.split(":", 1)[1] if last else None
    row = Csat(conversation_id=conv.id, store=conv.store, agent=agent, score=score,
               comment=comment, at=now())
    session.add(row)
    await session.flush()
    return row


def _month_bounds(month: str, tz: str) -> tuple[datetime, datetime]:
    y, m = (int(x) for x in month.split("-"))
    zone = ZoneInfo(tz)
    start = datetime.combine(date(y, m, 1), datetime.min.time(), zone)
    end = datetime.combine(date(y + (m == 12), m % 12 + 1, 1), datetime.min.time(), zone)
    return start, end


def _stats(scores: list[int]) -> JsonObject:
    return {"responses": len(scores),
            "average": round(sum(scores) / len(scores), 2) if scores else None,
            "satisfied_pct": round(100 * sum(s >= 4 for s in scores) / len(scores), 1)
            if scores else None,
            "distribution": {str(k): scores.count(k) for k in range(1, 6)}}


async def csat_report(session: AsyncSession, *, store: str | None, month: str,
                      tz: str) -> JsonObject:
    start, end = _month_bounds(month, tz)
    q = select(Csat).where(Csat.at >= start, Csat.at < end)
    if store is not None:
        q = q.where(Csat.store == store)
    rows = (await session.scalars(q)).all()
    by_store: dict[str, list[int]] = defaultdict(list)
    by_agent: dict[tuple[str, str], list[int]] = defaultdict(list)
    for r in rows:
        by_store[r.store].append(r.score)
        by_agent[(r.store, r.agent or "-")].append(r.score)
    return {"month": month,
            "stores": [{"store": s, **_stats(v)} for s, v in sorted(by_store.items())],
            "agents": [{"store": s, "agent": a, **_stats(v)}
                       for (s, a), v in sorted(by_agent.items())]}


async def complaints_report(session: AsyncSession, *, store: str | None, month: str,
                            tz: str) -> JsonObject:
    """Complaints and suggestions opened in a month, by store, kind and category."""
    start, end = _month_bounds(month, tz)
    q = select(Conversation).where(
        Conversation.kind.in_((Kind.COMPLAINT, Kind.SUGGESTION)),
        Conversation.created_at >= start, Conversation.created_at < end)
    if store is not None:
        q = q.where(Conversation.store == store)
    groups: dict[tuple[str, str, str], list[Conversation]] = defaultdict(list)
    for c in (await session.scalars(q)).all():
        groups[(c.store, c.kind, c.category or "other")].append(c)
    rows: list[JsonObject] = []
    for (s, kind, category), convs in sorted(groups.items()):
        hours = [(c.resolved_at - c.created_at).total_seconds() / 3600
                 for c in convs if c.resolved_at is not None]
        rows.append({"store": s, "kind": kind, "category": category, "opened": len(convs),
                     "resolved": len(hours),
                     "avg_hours_to_resolve": round(sum(hours) / len(hours), 1) if hours
                     else None})
    return {"month": month, "rows": rows,
            "totals": {k: sum(len(convs) for (_, kind, _), convs in groups.items() if kind == k)
                       for k in (Kind.COMPLAINT.value, Kind.SUGGESTION.value)}}
