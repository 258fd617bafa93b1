"""Published price books: stored per store and version, announced to the kiosks.

Head office publishes a price book for a store (``PUT /api/v1/admin/stores/{store}/catalog``
or ``cloud-bridge catalog publish``). The bridge validates it with
:mod:`contract.pricebook` (the same code the kiosk parses it with), stores its
canonical bytes (:meth:`PriceBook.canonical_bytes`) with their SHA-256 and marks it the
store's current book, then publishes a retained :class:`CatalogPointer` on
``kiosk/v1/{store}/catalog``. Kiosks fetch the bytes from
``{public_url}/api/v1/catalog/{store}/{version}`` and check size and SHA-256
(:mod:`kiosk_agent.catalog_sync`).

A partial unique index allows one current book per store, so two concurrent
publishes for one store cannot both become current (the second is a conflict).
Pointers carry the book's ``created_at`` as ``ts`` and the URL is derived from the
configuration at announce time, so re-announcing (every bridge start, every
reconnect) is idempotent and follows a changed ``[http] public_url``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    Boolean,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    select,
    update,
)
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from common.jsontypes import JsonObject
from contract.wire.shadow import CatalogPointer
from contract.wire.topics import store_catalog

from .errors import BridgeError, Conflict
from .models import Base, BigId, UtcDateTime, now

if TYPE_CHECKING:
    from contract.pricebook import PriceBook

    from .config import BridgeConfig
    from .db import Database

log = logging.getLogger(__name__)

# A version is a path segment of the download URL: keep it URL-safe.
VERSION_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"
_VERSION = re.compile(VERSION_PATTERN)

# Re-reads after announcing (see announce_current); more would only chase a flood of publishes.
ANNOUNCE_ROUNDS = 3

Publish = Callable[..., Awaitable[None]]  # Ingest.publish(topic, payload, qos=, retain=)


class InvalidPriceBook(BridgeError):
    """An uploaded price book that the kiosks could not use (HTTP 422)."""

    status = 422
    title = "Invalid price book"


class PublishedPriceBook(Base):
    """One published price book of one store (canonical bytes, as the kiosks get them)."""

    __tablename__ = "price_books"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    store: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(64))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    created_by: Mapped[str] = mapped_column(String(128))
    is_current: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (
        UniqueConstraint("store", "version", name="uq_price_books_store_version"),
    )


# One current book per store, enforced by the database (concurrent publishes, many workers).
Index("ix_price_books_current", PublishedPriceBook.store, unique=True,
      sqlite_where=PublishedPriceBook.is_current, postgresql_where=PublishedPriceBook.is_current)


@dataclass(frozen=True, slots=True)
class BookInfo:
    """A published book without its body (what pointers and listings need)."""

    store: str
    version: str
    sha256: str
    size: int
    created_at: datetime
    created_by: str
    is_current: bool

    def json(self) -> JsonObject:
        return {"store": self.store, "version": self.version, "sha256": self.sha256,
                "size": self.size, "created_at": self.created_at.isoformat(),
                "created_by": self.created_by, "current": self.is_current}


_INFO_COLUMNS = (PublishedPriceBook.store, PublishedPriceBook.version, PublishedPriceBook.sha256,
                 PublishedPriceBook.size, PublishedPriceBook.created_at,
                 PublishedPriceBook.created_by, PublishedPriceBook.is_current)


def _info(row: Row[tuple[str, str, str, int, datetime, str, bool]]) -> BookInfo:
    return BookInfo(*row)


# --------------------------------------------------------------------------- validation


def parse_upload(raw: bytes, fmt: str = "json", source: str = "price book") -> PriceBook:
    """Validate an uploaded book with the kiosk's parser; :class:`InvalidPriceBook` if unusable.

    Returns:
        The ``contract.pricebook.PriceBook``.
    """
    from contract.pricebook import CatalogError, parse_price_book

    try:
        book = parse_price_book(raw, fmt=fmt, source=source)
    except CatalogError as err:
        raise InvalidPriceBook(str(err)) from err
    if not _VERSION.match(book.version):
        raise InvalidPriceBook(f"{source}: version: must match {VERSION_PATTERN} "
                               "(it is part of the download URL)")
    return book


# --------------------------------------------------------------------------- storage


async def publish_book(session: AsyncSession, store: str, book: PriceBook,
                       actor: str) -> BookInfo:
    """Store ``book`` as the store's current price book; its version must be new there.

    Raises:
        Conflict: the store already has a book with this version.
    """
    # Staff badge revocations travel with every price book (issue 11, selling domain).
    from cloud_bridge.selling.service import with_revocations

    book = await with_revocations(session, book)
    # Coupon definitions for offline kiosks (issue 13, marketing.kiosk).
    from cloud_bridge.marketing.kiosk import with_coupon_definitions

    book = await with_coupon_definitions(session, store, book)
    # Campaigns running or scheduled in the store (issue 13, marketing.campaigns).
    from cloud_bridge.marketing.campaigns import with_campaigns

    book = await with_campaigns(session, store, book)
    body = await asyncio.to_thread(book.canonical_bytes)
    exists = await session.scalar(select(PublishedPriceBook.id).where(
        PublishedPriceBook.store == store, PublishedPriceBook.version == book.version))
    if exists is not None:
        raise Conflict(f"store {store} already has price book version {book.version}")
    await session.execute(update(PublishedPriceBook)
                          .where(PublishedPriceBook.store == store,
                                 PublishedPriceBook.is_current.is_(True))
                          .values(is_current=False))
    row = PublishedPriceBook(store=store, version=book.version,
                             sha256=hashlib.sha256(body).hexdigest(), size=len(body), body=body,
                             created_at=now(), created_by=actor[:128], is_current=True)
    session.add(row)
    await session.flush()
    return BookInfo(row.store, row.version, row.sha256, row.size, row.created_at,
                    row.created_by, True)


async def current_info(session: AsyncSession, store: str) -> BookInfo | None:
    """The store's current book (without body), or ``None``."""
    row = (await session.execute(select(*_INFO_COLUMNS).where(
        PublishedPriceBook.store == store, PublishedPriceBook.is_current.is_(True)))).first()
    return _info(row) if row else None


async def current_infos(session: AsyncSession) -> list[BookInfo]:
    """The current book of every store."""
    rows = await session.execute(select(*_INFO_COLUMNS)
                                 .where(PublishedPriceBook.is_current.is_(True))
                                 .order_by(PublishedPriceBook.store))
    return [_info(r) for r in rows]


async def book_body(session: AsyncSession, store: str, version: str) -> tuple[str, bytes] | None:
    """``(sha256, canonical bytes)`` of one published version, or ``None``."""
    row = (await session.execute(
        select(PublishedPriceBook.sha256, PublishedPriceBook.body).where(
            PublishedPriceBook.store == store, PublishedPriceBook.version == version))).first()
    return (row[0], bytes(row[1])) if row else None


# --------------------------------------------------------------------------- announcing


def public_base_url(config: BridgeConfig) -> str:
    """Where kiosks reach this bridge's HTTP API: ``[http] public_url`` or host and port."""
    http = config.http
    if http.public_url:
        return http.public_url.rstrip("/")
    return f"http://{http.host}:{http.port}"


def book_url(config: BridgeConfig, store: str, version: str) -> str:
    """The download URL, with the book's download token when the bridge can sign one
    (so that a kiosk never sends its own secret for it: :mod:`.security.download_tokens`)."""
    from .security.download_tokens import with_token

    return with_token(config, f"{public_base_url(config)}/api/v1/catalog/{store}/{version}",
                      store, version)


def pointer_for(config: BridgeConfig, info: BookInfo) -> CatalogPointer:
    """The retained pointer announcing ``info`` (same bytes every time for one book)."""
    return CatalogPointer(version=info.version, sha256=info.sha256, size=info.size,
                          url=book_url(config, info.store, info.version), ts=info.created_at)


async def announce(publish: Publish, config: BridgeConfig, info: BookInfo) -> None:
    """Publish the store's retained pointer (QoS 1) through the bridge's MQTT client."""
    await publish(store_catalog(info.store), pointer_for(config, info).encode(), qos=1,
                  retain=True)


async def announce_current(db: Database, config: BridgeConfig, publish: Publish,
                           store: str | None = None) -> int:
    """Announce the current book of ``store`` (or of every store) as the database has it now.

    Reads, publishes, then reads again and publishes what changed meanwhile: a worker
    re-announcing at start must not leave an older pointer retained over the one another
    worker published a moment later (that one was committed before it was published, so
    the second read sees it). Callers in one process hold one lock around this.

    Returns:
        How many stores were announced.
    """

    async def read() -> list[BookInfo]:
        async with db.session() as s:
            if store is None:
                return await current_infos(s)
            info = await current_info(s, store)
            return [info] if info else []

    sent: dict[str, BookInfo] = {}
    infos = await read()
    for _ in range(ANNOUNCE_ROUNDS):
        for info in infos:
            if sent.get(info.store) != info:
                await announce(publish, config, info)
                sent[info.store] = info
        infos = await read()
        if all(sent.get(info.store) == info for info in infos):
            break
    return len(sent)


# --------------------------------------------------------------------------- pricing


async def published_book(db: Database, books: dict[str, tuple[str, PriceBook]],
                         store: str) -> PriceBook | None:
    """The store's current published ``PriceBook``, parsed once per version; ``None`` if none.

    Args:
        db: The bridge database.
        books: Parsed books by store, ``(sha256, book)``, kept across calls (the app's
            ``BridgeServices.catalog_books``).
        store: The store.
    """
    from contract.pricebook import parse_price_book

    async with db.session() as s:
        info = await current_info(s, store)
        if info is None:
            return None
        cached = books.get(store)
        if cached is not None and cached[0] == info.sha256:
            return cached[1]
        found = await book_body(s, store, info.version)
    if found is None:  # replaced between the two reads; the next call sees the new one
        return cached[1] if cached else None
    book = await asyncio.to_thread(parse_price_book, found[1], source=f"{store}/{info.version}")
    books[store] = (found[0], book)
    return book
