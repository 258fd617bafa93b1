"""Chat messages: stored and numbered before anyone is sent them, read back by sequence.

A message takes the conversation's ``last_seq + 1`` in the transaction that stores it
(the conversation row is the counter: SQLite's ``BEGIN IMMEDIATE`` and PostgreSQL's row
lock serialise writers of one conversation), so every reader can ask "everything after
seq N" and get each message once, in order. The sender's ``client_msg_id`` makes a resend
after a dropped connection store nothing new: the first copy's seq is answered again.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge.errors import Conflict, InvalidRequest, NotFound
from cloud_bridge.models import now
from common.jsontypes import JsonObject

from . import tickets
from .models import Attachment, Conversation, Message
from .tickets import Status

MAX_BODY_CHARS = 2000
# Messages one read returns; a reader far behind reads again from the last seq it got.
PAGE = 200


@dataclass(frozen=True, slots=True)
class Posted:
    """A stored message and whether this call stored it (False: a resend of it)."""

    message: Message
    conversation: Conversation
    new: bool


async def post_message(
    session: AsyncSession, conv_id: int, *, sender_kind: str, sender: str, body: str,
    client_msg_id: str | None = None, attachment_id: str | None = None,
) -> Posted:
    """Store one message with the next seq; staff replies and shopper messages move the
    ticket's clocks (first response, waiting since) and reopen a resolved ticket."""
    body = (body or "").strip()
    if not body and not attachment_id:
        raise InvalidRequest("a message needs text or an image")
    if len(body) > MAX_BODY_CHARS:
        raise InvalidRequest(f"a message may have at most {MAX_BODY_CHARS} characters")
    if "\x00" in body:
        raise InvalidRequest("a message may not contain NUL")
    if client_msg_id is not None:
        old = await session.scalar(select(Message).where(
            Message.conversation_id == conv_id, Message.client_msg_id == client_msg_id))
        if old is not None:
            return Posted(old, await tickets.get_ticket(session, conv_id), False)
    # The UPDATE takes the row lock first (PostgreSQL), then numbers the message.
    seq = await session.scalar(
        update(Conversation).where(Conversation.id == conv_id)
        .values(last_seq=Conversation.last_seq + 1).returning(Conversation.last_seq))
    if seq is None:
        raise NotFound(f"conversation {conv_id} not found")
    conv = await tickets.get_ticket(session, conv_id)
    await session.refresh(conv)
    if conv.status == Status.CLOSED:
        raise Conflict(f"conversation {conv_id} is closed; start a new one")
    if attachment_id is not None:
        att = await session.get(Attachment, attachment_id)
        if att is None or att.owner != sender or att.store != conv.store:
            raise InvalidRequest(f"no attachment {attachment_id} of yours")
        att.used = True
    at = now()
    msg = Message(conversation_id=conv_id, seq=seq, sender_kind=sender_kind, sender=sender,
                  body=body, attachment_id=attachment_id, client_msg_id=client_msg_id,
                  created_at=at)
    session.add(msg)
    if sender_kind == "staff":
        if conv.first_response_at is None:
            conv.first_response_at = at
        conv.waiting_since = None
    elif sender_kind == "customer":
        if conv.waiting_since is None:
            conv.waiting_since = at
        if conv.status in (Status.PENDING, Status.SNOOZED, Status.RESOLVED):
            session.add(tickets.set_status(conv, Status.OPEN, sender))
    conv.updated_at = at
    await session.flush()
    return Posted(msg, conv, True)


async def messages_after(session: AsyncSession, conv_id: int, after_seq: int,
                         limit: int = PAGE) -> list[Message]:
    """Messages of one conversation with seq > ``after_seq``, in seq order."""
    return list((await session.scalars(
        select(Message).where(Message.conversation_id == conv_id, Message.seq > after_seq)
        .order_by(Message.seq).limit(limit))).all())


async def attachments_of(session: AsyncSession, ids: set[str]) -> dict[str, Attachment]:
    if not ids:
        return {}
    rows = (await session.scalars(select(Attachment).where(Attachment.id.in_(ids)))).all()
    return {a.id: a for a in rows}


def message_json(msg: Message, att: Attachment | None, *, staff_view: bool) -> JsonObject:
    """A message as a client sees it; shoppers see staff as ``staff``, not their login."""
    sender = msg.sender if staff_view or msg.sender_kind != "staff" else "staff"
    return {
        "type": "message", "conversation_id": msg.conversation_id, "seq": msg.seq,
        "sender_kind": msg.sender_kind, "sender": sender, "body": msg.body,
        "client_msg_id": msg.client_msg_id, "created_at": msg.created_at.isoformat(),
        "attachment": None if att is None else {
            "id": att.id, "content_type": att.content_type, "size": att.size},
    }
