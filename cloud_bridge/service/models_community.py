"""Tables of the members' community: posts, comments, reports, and the word filter.

A post belongs to one store, or is a chain-wide topic (``store`` NULL). Posts and
comments carry a moderation ``status``: ``visible``; ``held`` (a review word matched, or
enough members reported it); ``hidden`` (staff hid it); ``deleted`` (staff removed it).
Only ``visible`` items are shown to other shoppers; the author still sees their own held
or hidden item, marked. Who moderated and when is kept on the row.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cloud_bridge.models import Base, BigId, UtcDateTime, now


class CommunityPost(Base):
    __tablename__ = "svc_community_posts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    store: Mapped[str | None] = mapped_column(String(64), index=True)  # None: chain-wide
    member_id: Mapped[str] = mapped_column(String(32))
    openid: Mapped[str] = mapped_column(String(64), index=True)
    text: Mapped[str] = mapped_column(String(1000))
    images: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), index=True)
    held_reason: Mapped[str | None] = mapped_column(String(16))  # word | reports | staff
    report_count: Mapped[int] = mapped_column(Integer, default=0)
    moderated_by: Mapped[str | None] = mapped_column(String(128))
    moderated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    moderation_note: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)

    __table_args__ = (Index("ix_svc_community_posts_member", "member_id", "created_at"),)


class CommunityComment(Base):
    __tablename__ = "svc_community_comments"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    post_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("svc_community_posts.id", ondelete="CASCADE"), index=True)
    store: Mapped[str | None] = mapped_column(String(64), index=True)  # the post's
    member_id: Mapped[str] = mapped_column(String(32))
    openid: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16), index=True)
    held_reason: Mapped[str | None] = mapped_column(String(16))
    report_count: Mapped[int] = mapped_column(Integer, default=0)
    moderated_by: Mapped[str | None] = mapped_column(String(128))
    moderated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    moderation_note: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)

    __table_args__ = (Index("ix_svc_community_comments_member", "member_id", "created_at"),)


class CommunityReport(Base):
    """One member's report of a post or comment (once per member and item)."""

    __tablename__ = "svc_community_reports"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(8))  # post | comment
    target_id: Mapped[int] = mapped_column(BigId)
    member_id: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)

    __table_args__ = (UniqueConstraint("kind", "target_id", "member_id",
                                       name="uq_svc_community_reports_once"),)


class CommunityWord(Base):
    """A forbidden word (stored normalised): ``block`` refuses the text, ``review`` holds it."""

    __tablename__ = "svc_community_words"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    word: Mapped[str] = mapped_column(String(64), unique=True)
    action: Mapped[str] = mapped_column(String(8))
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
