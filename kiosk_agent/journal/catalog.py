"""Price book versions: a new version is stored completely before it becomes current."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from common.jsontypes import JsonMapping, JsonObject

from .core import JournalCore

if TYPE_CHECKING:
    from contract.pricebook import PriceBook


def _product_row(version: str, p: JsonMapping) -> tuple[object, ...]:
    """One ``catalog_products`` row of product ``p`` (a dict as ``Product.model_dump``)."""
    product_id, barcodes = p["product_id"], p.get("barcodes", ())
    if not isinstance(barcodes, Iterable):
        raise TypeError(f"product {product_id}: barcodes is not a list")
    name_zh, unit_price = p["name_zh"], p["unit_price"]
    if not isinstance(unit_price, int | float | str):
        raise TypeError(f"product {product_id}: unit_price is not a number")
    return (version, product_id, json.dumps(list(barcodes)), name_zh, p.get("name_en"),
            int(unit_price), json.dumps(p, ensure_ascii=False, default=str))


class CatalogMixin(JournalCore):
    """The price book the kiosk sells on, and the versions kept beside it."""

    async def save_price_book(
        self,
        version: str,
        sha256: str,
        currency: str,
        body: bytes,
        products: Sequence[JsonMapping],
        keep_versions: int = 2,
    ) -> None:
        """Store a price book version and make it current, in one transaction.

        Until this commits, the previous version stays current (and complete), so
        the kiosk keeps selling on it. ``products`` are dicts with at least
        ``product_id``, ``barcodes``, ``name_zh``, ``unit_price``. Older versions
        beyond ``keep_versions`` are dropped.
        """

        def tx(conn: sqlite3.Connection) -> None:
            now = time.time()
            conn.execute("DELETE FROM catalog_versions WHERE version = ?", (version,))
            conn.execute(
                "INSERT INTO catalog_versions(version, sha256, currency, body, loaded_at)"
                " VALUES (?,?,?,?,?)",
                (version, sha256, currency, body, now),
            )
            conn.executemany(
                "INSERT INTO catalog_products(version, product_id, barcodes, name_zh, name_en,"
                " unit_price, data) VALUES (?,?,?,?,?,?,?)",
                [_product_row(version, p) for p in products],
            )
            conn.execute("UPDATE catalog_versions SET is_current = 0 WHERE is_current = 1")
            conn.execute(
                "UPDATE catalog_versions SET complete = 1, is_current = 1 WHERE version = ?",
                (version,),
            )
            old = [
                r[0]
                for r in conn.execute(
                    "SELECT version FROM catalog_versions ORDER BY is_current DESC, loaded_at DESC"
                    " LIMIT -1 OFFSET ?",
                    (max(keep_versions, 1),),
                )
            ]
            for v in old:
                conn.execute("DELETE FROM catalog_products WHERE version = ?", (v,))
                conn.execute("DELETE FROM catalog_versions WHERE version = ?", (v,))

        await self._call(self._tx, tx)

    async def store_price_book(self, book: PriceBook) -> None:
        """Store a price book: its canonical JSON, hash and products."""

        def serialise() -> tuple[bytes, str, list[JsonObject]]:
            # Canonical JSON and its hash of a whole price book: CPU work of size.
            products: list[JsonObject] = [p.model_dump(mode="json") for p in book.products]
            return book.canonical_bytes(), book.sha256(), products

        body, sha, products = await asyncio.to_thread(serialise)
        await self.save_price_book(str(book.version), sha, str(book.currency), body, products)

    async def current_price_book(self) -> tuple[str, str, bytes] | None:
        """``(version, sha256, body)`` of the current complete price book, or None."""

        def q(conn: sqlite3.Connection) -> tuple[str, str, bytes] | None:
            row = conn.execute(
                "SELECT version, sha256, body FROM catalog_versions"
                " WHERE is_current = 1 AND complete = 1"
            ).fetchone()
            return (row[0], row[1], bytes(row[2])) if row else None

        return await self._call(self._read, q)
