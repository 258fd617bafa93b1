"""Catalog sync: follow the store's retained price-book pointer.

The cloud publishes a retained :class:`CatalogPointer` (version, sha256, size, url)
on ``kiosk/v1/{store}/catalog``. When it names a version other than the one the
kiosk sells on, the kiosk downloads the book over HTTP from the bridge (aiohttp; the
pointer's URL carries a per-book download token, never the kiosk's own secret),
checks size and sha256, parses it, and stores it in ONE journal transaction
(:meth:`Journal.store_price_book`); only then does ``on_applied(book)`` swap the book
the checkout uses. Until that moment the kiosk keeps selling on the old version; a
failed or corrupt download changes nothing and is retried with backoff.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import hashlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import aiomqtt

from common.jsontypes import JsonObject
from contract.wire.base import WireError, decode
from contract.wire.shadow import CatalogPointer

from .link import Link

if TYPE_CHECKING:
    from contract.pricebook import PriceBook

    from .journal import Journal

log = logging.getLogger(__name__)

# Per download attempt; a price book is at most a few MB even for a large store.
FETCH_TIMEOUT_S = 60.0
# Retry a failed sync after this, doubling up to the cap: the bridge may be
# restarting, and a chain's kiosks must not hammer it in step.
RETRY_MIN_S = 5.0
RETRY_MAX_S = 600.0
# Refuse anything larger whatever the pointer says (a broken pointer must not fill the disk).
MAX_BOOK_BYTES = 64 * 1024 * 1024


class CatalogSyncError(Exception):
    """A price book that could not be fetched or verified; the old one stays."""


def _shown(url: str) -> str:
    """``url`` without its query: the download token stays out of logs and errors."""
    return url.split("?", 1)[0]


async def fetch_http(url: str, size: int, auth: tuple[str, str] | None = None,
                     allow_insecure_auth: bool = False) -> bytes:
    """GET ``url``; at most ``size`` bytes (and :data:`MAX_BOOK_BYTES`).

    The first request carries no credentials: the pointer's URL holds a per-book
    download token (``?token=``), or the bridge serves books openly. Only when the
    bridge answers 401 are ``auth`` (the kiosk's MQTT username and password) sent,
    and only over https: over plain http anybody on the shop LAN would read them and
    become this kiosk (fake sales, stored-value debits). ``allow_insecure_auth``
    lifts that for a lab bridge without TLS, and nothing else should set it.
    """
    import aiohttp

    limit = min(size, MAX_BOOK_BYTES)
    timeout = aiohttp.ClientTimeout(total=FETCH_TIMEOUT_S)
    shown = _shown(url)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with session.get(url, allow_redirects=False) as resp:
                status = resp.status
                body = await resp.content.read(limit + 1) if status == 200 else b""
            if status == 401 and auth:
                if not url.lower().startswith("https://") and not allow_insecure_auth:
                    raise CatalogSyncError(
                        f"GET {shown}: HTTP 401, and this kiosk never sends its credentials "
                        "over plain http (publish with a command signing key so the pointer "
                        "carries a download token, or serve the bridge over https)")
                token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
                headers = {"Authorization": f"Basic {token}"}
                async with session.get(url, headers=headers, allow_redirects=False) as resp:
                    status = resp.status
                    body = await resp.content.read(limit + 1) if status == 200 else b""
    except (aiohttp.ClientError, TimeoutError) as err:
        raise CatalogSyncError(f"GET {shown}: {type(err).__name__}: {err}") from err
    if status != 200:
        raise CatalogSyncError(f"GET {shown}: HTTP {status}")
    if len(body) > limit:
        raise CatalogSyncError(f"GET {shown}: larger than the announced {size} bytes")
    return body


class CatalogSync:
    """Keeps the kiosk's price book at the version the store's pointer names.

    Args:
        link: The kiosk's link (registers the handler for the store's catalog topic).
        journal: The open journal (``current_price_book``, ``store_price_book``).
        on_applied: ``await on_applied(book)`` after the new book is committed.
        parse: bytes -> ``catalog.PriceBook`` (default ``catalog.parse_price_book``).
        fetch: ``await fetch(url, size) -> bytes`` (default HTTP via aiohttp).
        allow_insecure_auth: send the kiosk's credentials after a 401 even over plain
            http (a lab bridge without TLS only; see :func:`fetch_http`).
    """

    def __init__(
        self,
        link: Link,
        journal: Journal,
        on_applied: Callable[[PriceBook], Awaitable[None]] | None = None,
        parse: Callable[[bytes], PriceBook] | None = None,
        fetch: Callable[[str, int], Awaitable[bytes]] | None = None,
        allow_insecure_auth: bool = False,
    ) -> None:
        self.link = link
        self.journal = journal
        self.on_applied = on_applied
        self.parse = parse
        if fetch is None and link.password:  # the bridge may ask for them (https only)
            fetch = functools.partial(fetch_http, auth=(link.username, link.password),
                                      allow_insecure_auth=allow_insecure_auth)
        self.fetch = fetch or fetch_http
        self.current_version: str | None = None
        self.pointer: CatalogPointer | None = None
        self.last_error: str | None = None
        self.synced = asyncio.Event()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> CatalogSync:
        current = await self.journal.current_price_book()
        self.current_version = current[0] if current else None
        self.link.add_handler(self.link.topics.catalog, self._on_message)
        self._task = asyncio.create_task(self._run(), name="catalog-sync")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _on_message(self, message: aiomqtt.Message) -> None:
        if not message.payload:
            return
        try:
            pointer = decode(CatalogPointer, message.payload)
        except WireError as err:
            log.warning("dropped malformed catalog pointer: %s", err.reason)
            return
        self.pointer = pointer
        self._wake.set()

    async def sync_now(self) -> JsonObject:
        """Sync to the last pointer now (the ``sync_catalog`` command)."""
        if self.pointer is None:
            return {"version": self.current_version, "changed": False, "reason": "no pointer yet"}
        try:
            changed = await self._sync(self.pointer)
        except CatalogSyncError as err:
            self.last_error = str(err)
            return {"version": self.current_version, "changed": False, "error": str(err)}
        return {"version": self.current_version, "changed": changed}

    async def _run(self) -> None:
        backoff = RETRY_MIN_S
        while True:
            await self._wake.wait()
            self._wake.clear()
            pointer = self.pointer
            if pointer is None:
                continue
            try:
                await self._sync(pointer)
                backoff = RETRY_MIN_S
            except CatalogSyncError as err:
                self.last_error = str(err)
                log.warning("catalog %s not synced (still selling on %s): %s",
                            pointer.version, self.current_version, err)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), backoff)
                backoff = min(backoff * 2, RETRY_MAX_S)
                self._wake.set()

    async def _sync(self, pointer: CatalogPointer) -> bool:
        if pointer.version == self.current_version:
            self.synced.set()
            return False
        if not pointer.url:
            raise CatalogSyncError("pointer has no url")
        if pointer.size > MAX_BOOK_BYTES:
            raise CatalogSyncError(f"announced size {pointer.size} exceeds {MAX_BOOK_BYTES}")
        body = await self.fetch(pointer.url, pointer.size)
        if len(body) != pointer.size:
            raise CatalogSyncError(f"got {len(body)} bytes, pointer says {pointer.size}")
        digest = hashlib.sha256(body).hexdigest()
        if digest != pointer.sha256:
            raise CatalogSyncError(f"sha256 mismatch: got {digest[:12]}…, want {pointer.sha256[:12]}…")
        book = self._parse(body)
        if str(book.version) != pointer.version:
            raise CatalogSyncError(f"book says version {book.version}, pointer {pointer.version}")
        await self.journal.store_price_book(book)  # one transaction; old stays current until then
        self.current_version = pointer.version
        self.last_error = None
        log.info("catalog version %s applied", pointer.version)
        if self.on_applied is not None:
            await self.on_applied(book)
        self.synced.set()
        return True

    def _parse(self, body: bytes) -> PriceBook:
        if self.parse is not None:
            parse = self.parse
        else:
            from contract.pricebook import parse_price_book as parse
        try:
            return parse(body)
        except ValueError as err:
            raise CatalogSyncError(f"price book does not parse: {err}") from err
