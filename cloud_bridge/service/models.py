"""Tables of customer service: conversations (every one is a ticket), messages, notes.

Every table is prefixed ``svc_``. A conversation keeps ``last_seq``, the sequence number
of its last message: a message takes ``last_seq + 1`` in the transaction that stores it,
so the numbers of one conversation are dense and ordered on both backends. The other
concerns' tables live in ``models_*.py`` beside this file, imported at the bottom so that
the domain's ``models.py`` brings them all onto :data:`cloud_bridge.models.Base`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from cloud_bridge.models import Base, BigId, UtcDateTime, now
from common.jsontypes import JsonObject


class Conversation(Base):
    """A shopper's conversation with a store; also the ticket staff work on."""

    __tablename__ = "svc_conversations"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    store: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="conversation")
    channel: Mapped[str] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(16), index=True)
    priority: Mapped[str] = mapped_column(String(8), default="normal")
    tier: Mapped[str] = mapped_column(String(16), default="regular")
    # Higher first in the staff queue: member tier, then priority (tickets.routing_rank).
    rank: Mapped[int] = mapped_column(Integer, default=0)
    category: Mapped[str | None] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(200))
    openid: Mapped[str | None] = mapped_column(String(64), index=True)
    member_id: Mapped[str | None] = mapped_column(String(64))
    order_no: Mapped[str | None] = mapped_column(String(64))
    assignee: Mapped[str | None] = mapped_column(String(64))
    labels: Mapped[list[str]] = mapped_column(JSON, default=list)
    external_ref: Mapped[str | None] = mapped_column(String(64))
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    snoozed_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # SLA clock marks: when staff first answered, since when the shopper waits for a reply.
    first_response_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    waiting_since: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (
        Index("ix_svc_conversations_queue", "store", "status", "rank"),
        UniqueConstraint("channel", "external_ref"),
    )


class Message(Base):
    """One chat message, numbered within its conversation before anyone is sent it."""

    __tablename__ = "svc_messages"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("svc_conversations.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(BigInteger)
    sender_kind: Mapped[str] = mapped_column(String(16))  # customer | staff | system
    sender: Mapped[str] = mapped_column(String(128))
    body: Mapped[str] = mapped_column(Text, default="")
    attachment_id: Mapped[str | None] = mapped_column(String(40))
    # The sender's own id for the message: a resend after a reconnect is stored once.
    client_msg_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)

    __table_args__ = (
        UniqueConstraint("conversation_id", "seq", name="uq_svc_messages_seq"),
        UniqueConstraint("conversation_id", "client_msg_id", name="uq_svc_messages_client_msg"),
    )


class TicketNote(Base):
    """An internal note on a ticket: staff only, never sent to the shopper."""

    __tablename__ = "svc_notes"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("svc_conversations.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class TicketEvent(Base):
    """Every change of a ticket: who, when, what (status, assignee, labels, priority)."""

    __tablename__ = "svc_ticket_events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("svc_conversations.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(32))
    detail: Mapped[JsonObject] = mapped_column(JSON, default=dict)


class CannedReply(Base):
    """A prepared answer staff insert with a shortcut; ``store`` None is chain-wide."""

    __tablename__ = "svc_canned_replies"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    store: Mapped[str | None] = mapped_column(String(64), index=True)
    shortcut: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)

    __table_args__ = (UniqueConstraint("store", "shortcut"),)


class Attachment(Base):
    """An uploaded image; the bytes are in the file storage under ``storage_key``."""

    __tablename__ = "svc_attachments"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    store: Mapped[str] = mapped_column(String(64))
    owner: Mapped[str] = mapped_column(String(128))  # mp:<openid> | admin:<username>
    purpose: Mapped[str] = mapped_column(String(16))  # chat | aftersales | community
    content_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    used: Mapped[bool] = mapped_column(Boolean, default=False)


# The other concerns' tables (the knowledge base's among them), on the same Base.
from . import (  # noqa: E402,F401
    models_aftersales,
    models_community,
    models_delivery,
    models_kb,
    models_more,
)
