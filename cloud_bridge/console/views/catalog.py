"""Price books: the current version per store, what was published, publishing with confirmation.

Publishing goes through :mod:`cloud_bridge.catalog` (the same validation the kiosks run,
storage, the retained pointer announcement), in two steps: the upload is checked and
shown (version, products, SHA-256), then published when head office confirms.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib

from aiohttp.web_request import FileField
from sqlalchemy import select

from cloud_bridge import catalog
from cloud_bridge.errors import BridgeError, InvalidRequest
from common.jsontypes import JsonObject
from contract.pricebook import PriceBook

from ..call import PageCall
from .dashboard import visible_stores
from .fleet import confirm

MAX_BOOK_BYTES = 4 * 1024 * 1024
HISTORY_ROWS = 50


async def books_page(call: PageCall, *, error: str | None = None,
                     done: JsonObject | None = None, status: int = 200) -> JsonObject:
    store = call.store_filter()
    stores = await visible_stores(call)
    cols = (catalog.PublishedPriceBook.store, catalog.PublishedPriceBook.version,
            catalog.PublishedPriceBook.sha256, catalog.PublishedPriceBook.size,
            catalog.PublishedPriceBook.created_at, catalog.PublishedPriceBook.created_by,
            catalog.PublishedPriceBook.is_current)
    q = select(*cols).order_by(catalog.PublishedPriceBook.created_at.desc()).limit(HISTORY_ROWS)
    if store is not None:
        q = q.where(catalog.PublishedPriceBook.store == store)
    elif not call.principal.chain_wide:
        q = q.where(catalog.PublishedPriceBook.store == call.principal.store)
    async with call.db.session() as s:
        history = [catalog.BookInfo(*row) for row in (await s.execute(q)).all()]
    current = [b for b in history if b.is_current]
    return {"history": history, "current": current, "stores": stores, "store": store,
            "error": error, "done": done, "status": status, "template": "books.html"}


async def books(call: PageCall) -> JsonObject:
    return await books_page(call)


def _parse(raw: bytes, name: str) -> tuple[PriceBook, str]:
    fmt = "csv" if name.lower().endswith(".csv") else "json"
    return catalog.parse_upload(raw, fmt=fmt, source=name or "price book"), fmt


async def publish_confirm(call: PageCall) -> JsonObject:
    """Step 1: check the uploaded book with the kiosks' parser and ask to confirm."""
    store = call.ident("store")
    if store is None:
        return await books_page(call, error=call.t("store"), status=400)
    field = call.form.get("book") if call.form is not None else None
    if not isinstance(field, FileField):
        return await books_page(call, error=call.t("books.file"), status=400)
    raw = field.file.read(MAX_BOOK_BYTES + 1)
    if len(raw) > MAX_BOOK_BYTES:
        return await books_page(call, error=f"> {MAX_BOOK_BYTES} bytes", status=400)
    try:
        book, fmt = await asyncio.to_thread(_parse, raw, field.filename or "")
    except BridgeError as err:
        return await books_page(call, error=err.detail, status=422)
    items = len(book.products)
    digest = hashlib.sha256(raw).hexdigest()
    return confirm(
        call.t("books.publish_question", store=store, version=book.version, items=items),
        [(call.t("store"), store), (call.t("books.version"), book.version),
         (call.t("books.items"), str(items)), ("SHA-256", digest)],
        call.url("console.publish_execute"),
        {"store": store, "fmt": fmt, "name": field.filename or "",
         "body": base64.b64encode(raw).decode()},
        call.t("books.publish_confirm"), call.url("console.books"))


def _announce_lock(call: PageCall) -> asyncio.Lock:
    return call.services.catalog_announce_lock


async def publish_execute(call: PageCall) -> JsonObject:
    """Step 2: store the book as the store's current one and announce it to the kiosks."""
    store = call.ident("store")
    if store is None:
        raise InvalidRequest("store is needed")
    try:
        raw = base64.b64decode(call.arg("body", "", max_len=MAX_BOOK_BYTES * 2) or "",
                               validate=True)
    except (binascii.Error, ValueError) as err:
        raise InvalidRequest("the upload was damaged; upload the file again") from err
    name = call.arg("name", "", max_len=200) or ""
    try:
        book, _ = await asyncio.to_thread(_parse, raw, name)
        async with call.db.session() as s:
            info = await catalog.publish_book(s, store, book, call.principal.actor)
    except BridgeError as err:
        await call.audit("catalog.publish", store, "refused", store=store,
                         detail={"error": err.detail})
        return await books_page(call, error=err.detail, status=err.status)
    announced = False
    ingest = call.ingest()
    if ingest is not None and ingest.connected.is_set():
        try:
            async with _announce_lock(call):
                await catalog.announce_current(call.db, call.config, ingest.publish, store)
            announced = True
        except Exception as err:  # stored; the next MQTT (re)connect announces it
            call.request.app.logger.warning("price book %s/%s not announced: %s", store,
                                            info.version, err)
    await call.audit("catalog.publish", store, "ok", store=store,
                     detail={"version": info.version, "sha256": info.sha256,
                             "size": info.size, "announced": announced})
    return await books_page(call, done={"info": info, "announced": announced})
