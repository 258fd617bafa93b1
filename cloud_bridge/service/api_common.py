"""Helpers shared by the service domain's route modules: database, visibility, signals."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge import keys
from cloud_bridge.db import Database
from cloud_bridge.errors import NotFound
from cloud_bridge.openapi import Call
from common.jsontypes import JsonObject

from . import chat, tickets
from .hub import Signal
from .models import Conversation
from .runtime import runtime

ID_SCHEMA = {"type": "integer", "minimum": 1, "maximum": 10**15}
A = "/api/v1/admin/service"
M = "/api/v1/mp/service"
TAG = "service"


def db(call: Call) -> Database:
    return call.app[keys.DB_KEY]


def tz(call: Call) -> str:
    return call.app[keys.CONFIG_KEY].bridge.timezone


def path_id(call: Call, name: str) -> int:
    return int(call.path[name])


async def staff_ticket(s: AsyncSession, call: Call, conv_id: int, *, lock: bool = False) -> Conversation:
    """A ticket the calling staff may see: another store's is 404 (ids do not leak)."""
    conv = await tickets.get_ticket(s, conv_id, lock=lock)
    if not call.principal.chain_wide and conv.store != call.principal.store:
        raise NotFound(f"conversation {conv_id} not found")
    return conv


async def my_conversation(s: AsyncSession, call: Call, conv_id: int) -> Conversation:
    """One of the calling shopper's conversations; anyone else's is 404."""
    conv = await s.get(Conversation, conv_id)
    if conv is None or conv.openid != call.openid:
        raise NotFound(f"conversation {conv_id} not found")
    return conv


async def post_and_signal(call: Call, conv_id: int, *, sender_kind: str, body: str,
                          client_msg_id: str | None,
                          attachment_id: str | None) -> JsonObject:
    """Store a message sent over HTTP and push it to the live connections."""
    hub = runtime(call.app).hub
    sig: Signal | None = None

    async def work(s: AsyncSession) -> chat.Posted:
        nonlocal sig
        posted = await chat.post_message(s, conv_id, sender_kind=sender_kind,
                                         sender=call.principal.actor, body=body,
                                         client_msg_id=client_msg_id,
                                         attachment_id=attachment_id)
        if posted.new:
            sig = Signal(conv_id, posted.conversation.store, posted.message.seq)
            await hub.in_transaction(s, sig)
        return posted

    posted = await db(call).transact(work)
    if sig is not None:
        hub.after_commit(sig)
    return {"conversation_id": conv_id, "seq": posted.message.seq,
            "client_msg_id": client_msg_id, "new": posted.new}


async def message_list(s: AsyncSession, conv_id: int, after_seq: int, limit: int,
                       staff_view: bool) -> JsonObject:
    rows = await chat.messages_after(s, conv_id, after_seq, limit)
    atts = await chat.attachments_of(s, {m.attachment_id for m in rows if m.attachment_id})
    return {"items": [chat.message_json(m, atts.get(m.attachment_id or ""),
                                        staff_view=staff_view) for m in rows]}
