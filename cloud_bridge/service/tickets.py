"""Tickets: every conversation is one. Channels, the status machine, priority, member-tier
routing (VIP first), assignee, labels, linked order and member, internal notes, canned replies.

Status machine (``TRANSITIONS``)::

    open -> pending | snoozed | resolved | closed
    pending -> open | snoozed | resolved | closed      (pending: waiting for the shopper)
    snoozed -> open | pending | resolved | closed      (wakes up by itself at snoozed_until)
    resolved -> open | closed                          (a shopper's message reopens it)
    closed                                             (final)
"""

from __future__ import annotations

import importlib
from datetime import datetime
from enum import StrEnum

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge.errors import Conflict, InvalidRequest, NotFound
from cloud_bridge.models import now
from common.jsontypes import JsonMapping, JsonObject

from .models import CannedReply, Conversation, TicketEvent, TicketNote


class Channel(StrEnum):
    CHAT = "chat"
    KIOSK_HELP = "kiosk_help"  # the help button on a kiosk
    COMPLAINT_FORM = "complaint_form"
    WECHAT_COMPLAINT = "wechat_complaint"  # WeChat Pay consumer complaint (消费者投诉)


class Kind(StrEnum):
    CONVERSATION = "conversation"
    COMPLAINT = "complaint"
    SUGGESTION = "suggestion"


class Status(StrEnum):
    OPEN = "open"
    PENDING = "pending"
    SNOOZED = "snoozed"
    RESOLVED = "resolved"
    CLOSED = "closed"


TRANSITIONS: dict[str, frozenset[str]] = {
    Status.OPEN: frozenset({Status.PENDING, Status.SNOOZED, Status.RESOLVED, Status.CLOSED}),
    Status.PENDING: frozenset({Status.OPEN, Status.SNOOZED, Status.RESOLVED, Status.CLOSED}),
    Status.SNOOZED: frozenset({Status.OPEN, Status.PENDING, Status.RESOLVED, Status.CLOSED}),
    Status.RESOLVED: frozenset({Status.OPEN, Status.CLOSED}),
    Status.CLOSED: frozenset(),
}
ACTIVE = (Status.OPEN, Status.PENDING, Status.SNOOZED)

PRIORITY_RANK = {"low": 0, "normal": 1, "high": 2, "urgent": 3}
# Member tiers, best first in the queue; an unknown tier routes like a regular shopper.
TIER_RANK = {"regular": 0, "member": 1, "vip": 2}
# Complaint and suggestion categories (the monthly report groups by them).
CATEGORIES = ("product_quality", "price", "service_attitude", "checkout", "delivery",
              "hygiene", "environment", "payment", "other")


def routing_rank(tier: str, priority: str) -> int:
    """Queue order: the member tier first (VIP before everyone), then the priority."""
    return TIER_RANK.get(tier, 0) * 10 + PRIORITY_RANK[priority]


def member_tier(openid: str | None) -> str:
    """The shopper's member tier from the members domain when it offers one, else regular.

    The members domain is built in parallel; its ``service.tier_for_openid(openid)`` (sync,
    cached) is used when present so that VIP routing needs no change here when it lands.
    """
    if openid is None:
        return "regular"
    try:
        members = importlib.import_module("cloud_bridge.members.service")
    except ImportError:
        return "regular"
    lookup = getattr(members, "tier_for_openid", None)
    tier = lookup(openid) if callable(lookup) else None
    return tier if tier in TIER_RANK else "regular"


def event(conv: Conversation, actor: str, action: str, **detail: object) -> TicketEvent:
    return TicketEvent(conversation_id=conv.id, at=now(), actor=actor, action=action,
                       detail=detail)


async def open_ticket(
    session: AsyncSession, *, store: str, channel: str, subject: str, actor: str,
    kind: str = Kind.CONVERSATION, openid: str | None = None, member_id: str | None = None,
    order_no: str | None = None, priority: str = "normal", tier: str | None = None,
    category: str | None = None, external_ref: str | None = None,
) -> Conversation:
    """A new ticket in status open, placed in the queue by tier and priority."""
    if channel not in set(Channel):
        raise InvalidRequest(f"unknown channel {channel!r}")
    if kind not in set(Kind):
        raise InvalidRequest(f"unknown kind {kind!r}")
    if kind != Kind.CONVERSATION and category not in CATEGORIES:
        raise InvalidRequest(f"a {kind} needs a category: {', '.join(CATEGORIES)}")
    if priority not in PRIORITY_RANK:
        raise InvalidRequest(f"priority must be one of {', '.join(PRIORITY_RANK)}")
    tier = tier or member_tier(openid)
    at = now()
    conv = Conversation(store=store, kind=kind, channel=channel, status=Status.OPEN,
                        priority=priority, tier=tier, rank=routing_rank(tier, priority),
                        category=category, subject=subject, openid=openid,
                        member_id=member_id, order_no=order_no, labels=[],
                        external_ref=external_ref, last_seq=0, created_at=at, updated_at=at,
                        waiting_since=at)
    session.add(conv)
    await session.flush()
    session.add(event(conv, actor, "opened", channel=channel, kind=kind, tier=tier))
    return conv


async def get_ticket(session: AsyncSession, conv_id: int, *, lock: bool = False) -> Conversation:
    q = select(Conversation).where(Conversation.id == conv_id)
    if lock and session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update()
    conv = await session.scalar(q)
    if conv is None:
        raise NotFound(f"conversation {conv_id} not found")
    return conv


def set_status(conv: Conversation, to: str, actor: str, *,
               snooze_until: datetime | None = None) -> TicketEvent:
    """Move a ticket along the status machine; refuses a move it does not allow."""
    if to not in set(Status):
        raise InvalidRequest(f"unknown status {to!r}")
    if to not in TRANSITIONS[conv.status]:
        raise Conflict(f"conversation {conv.id} cannot go from {conv.status} to {to}")
    if to == Status.SNOOZED:
        if snooze_until is None or snooze_until <= now():
            raise InvalidRequest("snoozing needs snooze_until in the future")
        conv.snoozed_until = snooze_until
    else:
        conv.snoozed_until = None
    at = now()
    if to == Status.RESOLVED:
        conv.resolved_at = at
    elif to == Status.CLOSED:
        conv.closed_at = at
    elif to == Status.OPEN and conv.status == Status.RESOLVED:
        conv.resolved_at = None
    frm, conv.status, conv.updated_at = conv.status, to, at
    return event(conv, actor, "status", frm=frm, to=to)


def update_fields(conv: Conversation, actor: str, changes: JsonMapping) -> list[TicketEvent]:
    """Priority, tier, assignee, labels, linked order/member: each change is an event."""
    events = []
    for name in ("priority", "tier", "assignee", "labels", "order_no", "member_id", "category"):
        if name not in changes:
            continue
        value = changes[name]
        if name == "priority" and value not in PRIORITY_RANK:
            raise InvalidRequest(f"priority must be one of {', '.join(PRIORITY_RANK)}")
        if name == "tier" and value not in TIER_RANK:
            raise InvalidRequest(f"tier must be one of {', '.join(TIER_RANK)}")
        if name == "labels":
            if not isinstance(value, list):
                raise InvalidRequest("labels must be a list")
            value = sorted(set(value))
        old = getattr(conv, name)
        if old == value:
            continue
        setattr(conv, name, value)
        events.append(event(conv, actor, name, frm=old, to=value))
    conv.rank = routing_rank(conv.tier, conv.priority)
    conv.updated_at = now()
    return events


async def queue(
    session: AsyncSession, *, store: str | None, status: str | None = None,
    assignee: str | None = None, kind: str | None = None, label: str | None = None,
    limit: int = 50, offset: int = 0,
) -> tuple[list[Conversation], int]:
    """The staff queue: active tickets by rank (VIP, then priority), oldest first."""
    conds = []
    if store is not None:
        conds.append(Conversation.store == store)
    conds.append(Conversation.status == status if status else Conversation.status.in_(ACTIVE))
    if assignee is not None:
        conds.append(Conversation.assignee == assignee)
    if kind is not None:
        conds.append(Conversation.kind == kind)
    rows = (await session.scalars(
        select(Conversation).where(*conds)
        .order_by(Conversation.rank.desc(), Conversation.created_at, Conversation.id))).all()
    if label is not None:  # labels are a JSON list: filtered here, the same on both backends
        rows = [c for c in rows if label in (c.labels or [])]
    return list(rows[offset:offset + limit]), len(rows)


async def wake_snoozed(session: AsyncSession, at: datetime | None = None) -> int:
    """Snoozed tickets whose time has come go back to open (a periodic job)."""
    at = at or now()
    rows = (await session.scalars(select(Conversation).where(
        Conversation.status == Status.SNOOZED, Conversation.snoozed_until <= at))).all()
    for conv in rows:
        session.add(set_status(conv, Status.OPEN, "system:snooze"))
    return len(rows)


async def add_note(session: AsyncSession, conv: Conversation, author: str,
                   text: str) -> TicketNote:
    note = TicketNote(conversation_id=conv.id, author=author, text=text, at=now())
    session.add(note)
    session.add(event(conv, author, "note"))
    await session.flush()
    return note


async def notes(session: AsyncSession, conv_id: int) -> list[TicketNote]:
    return list((await session.scalars(select(TicketNote).where(
        TicketNote.conversation_id == conv_id).order_by(TicketNote.id))).all())


async def history(session: AsyncSession, conv_id: int) -> list[TicketEvent]:
    return list((await session.scalars(select(TicketEvent).where(
        TicketEvent.conversation_id == conv_id).order_by(TicketEvent.id))).all())


async def add_canned_reply(session: AsyncSession, *, store: str | None, shortcut: str,
                           title: str, body: str, actor: str) -> CannedReply:
    exists = await session.scalar(select(func.count()).select_from(CannedReply).where(
        CannedReply.shortcut == shortcut,
        CannedReply.store.is_(None) if store is None else CannedReply.store == store))
    if exists:
        raise Conflict(f"canned reply /{shortcut} exists")
    reply = CannedReply(store=store, shortcut=shortcut, title=title, body=body,
                        created_by=actor, created_at=now())
    session.add(reply)
    await session.flush()
    return reply


async def canned_replies(session: AsyncSession, store: str | None) -> list[CannedReply]:
    """The store's canned replies plus the chain-wide ones (``store`` None: all of them)."""
    q = select(CannedReply).order_by(CannedReply.shortcut, CannedReply.id)
    if store is not None:
        q = q.where(or_(CannedReply.store == store, CannedReply.store.is_(None)))
    return list((await session.scalars(q)).all())


def ticket_json(conv: Conversation) -> JsonObject:
    def iso(at: datetime | None) -> str | None:
        return at.isoformat() if at else None

    return {
        "id": conv.id, "store": conv.store, "kind": conv.kind, "channel": conv.channel,
        "status": conv.status, "priority": conv.priority, "tier": conv.tier,
        "category": conv.category, "subject": conv.subject, "member_id": conv.member_id,
        "order_no": conv.order_no, "assignee": conv.assignee, "labels": conv.labels or [],
        "last_seq": conv.last_seq, "created_at": conv.created_at.isoformat(),
        "updated_at": conv.updated_at.isoformat(), "snoozed_until": iso(conv.snoozed_until),
        "first_response_at": iso(conv.first_response_at),
        "resolved_at": iso(conv.resolved_at), "closed_at": iso(conv.closed_at),
    }
