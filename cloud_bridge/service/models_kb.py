"""Tables of the knowledge base: FAQ articles, their versions, and search synonyms.

An article belongs to one store, or to the whole chain (``store`` NULL, written by head
office). Every edit is a new row of ``svc_kb_versions``; the article row points at the
latest version and at the published one, so shoppers keep reading the published text
while staff edit a draft, and any earlier version can be published again.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cloud_bridge.models import Base, BigId, UtcDateTime, now


class KbArticle(Base):
    __tablename__ = "svc_kb_articles"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    store: Mapped[str | None] = mapped_column(String(64), index=True)  # None: chain-wide
    category: Mapped[str] = mapped_column(String(32), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)  # draft | published | archived
    latest_version: Mapped[int] = mapped_column(Integer, default=1)
    published_version: Mapped[int | None] = mapped_column(Integer)
    # The published version's text, copied here so a search reads one table.
    title: Mapped[str | None] = mapped_column(String(200))
    body_html: Mapped[str | None] = mapped_column(Text)
    body_text: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now, index=True)


class KbVersion(Base):
    __tablename__ = "svc_kb_versions"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    article_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("svc_kb_articles.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    body_html: Mapped[str] = mapped_column(Text)
    editor: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)

    __table_args__ = (UniqueConstraint("article_id", "version", name="uq_svc_kb_version"),)


class KbSynonyms(Base):
    """One group of words that mean the same to a shopper (``退款``, ``退钱``, ``refund``)."""

    __tablename__ = "svc_kb_synonyms"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    words: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
