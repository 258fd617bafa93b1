"""Price book versions: a new version is stored completely before it becomes current."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sqlite3
import time
from collections.abc import Sequence
from typing import Any

from .core import JournalCore


def _as_dict(obj: Any) -> dict[str, Any]:
    if isinstance(obj, dict):
        return dict(obj)
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    return dict(vars(obj))


class CatalogMixin(JournalCore):
    """The price book the kiosk sells on, and the versions kept beside it."""

    async def save_price_book(
        self,
        version: str,
        sha256: str,
        currency: str,
        body: bytes,
        products: Sequence[dict[str, Any]],
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
                [
                    (
                        version, p["product_id"], json.dumps(list(p.get("barcodes", ()))),
                        p["name_zh"], p.get("name_en"), int(p["unit_price"]),
                        json.dumps(p, ensure_ascii=False, default=str),
                    )
                    for p in products
                ],
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

    async def store_price_book(self, book: Any) -> None:
        """Store a ``catalog.PriceBook`` (duck-typed: version, currency, products, sha256())."""

        def serialise() -> tuple[bytes, str, list[dict[str, Any]]]:
            # Canonical JSON and its hash of a whole price book: CPU work of size.
            if hasattr(book, "canonical_bytes"):
                body = book.canonical_bytes()
            elif hasattr(book, "model_dump_json"):
                body = book.model_dump_json().encode()
            else:
                body = json.dumps(book, default=str).encode()
            products = [_as_dict(p) for p in getattr(book, "products", ()) or ()]
            return body, str(book.sha256()), products

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
