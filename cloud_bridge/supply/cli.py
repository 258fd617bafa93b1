"""``cloud-bridge supply import-products|propose|scan``: what staff script around the supply chain.

``import-products`` reads a CSV (header row) or JSON list of products with columns
``product_id, name_zh[, name_en, category, shelf_life_days, near_expiry_days, vat_rate_bp,
supplier_id, cost_fen, pack_size]``; a row naming a supplier (which must exist) also sets
that supplier's cost price and pack size. The whole file is one transaction: a bad row
stops it with ``line N: reason`` and exit status 2, and nothing is imported.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cloud_bridge.openapi import Ident
from common.jsontypes import JsonMapping, JsonObject

if TYPE_CHECKING:
    from cloud_bridge.db import Database


class ProductRow(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    product_id: Ident
    name_zh: str = Field(min_length=1, max_length=200)
    name_en: str | None = Field(default=None, max_length=200)
    category: str | None = Field(default=None, max_length=64)
    shelf_life_days: int | None = Field(default=None, ge=1, le=3650)
    near_expiry_days: int | None = Field(default=None, ge=0, le=365)
    vat_rate_bp: int = Field(default=1300, ge=0, le=10000)
    supplier_id: Ident | None = None
    cost_fen: int | None = Field(default=None, ge=0, le=10**12)
    pack_size: int = Field(default=1, ge=1, le=100000)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sup = subparsers.add_parser("supply", help="supply chain: products, proposals, scans")
    sub = sup.add_subparsers(dest="supply_command", metavar="ACTION")
    imp = sub.add_parser("import-products", help="import products (CSV or JSON)")
    imp.add_argument("--config", type=Path, help="bridge config (TOML)")
    imp.add_argument("--file", type=Path, required=True)
    imp.set_defaults(func=_import)
    pro = sub.add_parser("propose", help="the day's replenishment proposals (draft POs)")
    pro.add_argument("--config", type=Path, help="bridge config (TOML)")
    pro.add_argument("--date", required=True, help="YYYY-MM-DD, the stores' day")
    pro.add_argument("--store", help="one store (default: every store with reorder rules)")
    pro.set_defaults(func=_propose)
    scan = sub.add_parser("scan", help="stock alerts and supplier risks as of a day")
    scan.add_argument("--config", type=Path, help="bridge config (TOML)")
    scan.add_argument("--date", required=True, help="YYYY-MM-DD")
    scan.set_defaults(func=_scan)
    sup.set_defaults(func=lambda args: _usage(sup))


def _usage(parser: argparse.ArgumentParser) -> int:
    """Show a command group's help when no subcommand was given (exit status 2)."""
    parser.print_help()
    return 2


def _fail(message: str, code: int = 2) -> int:
    print(f"cloud-bridge supply: {message}", file=sys.stderr)
    return code


def read_rows(path: Path) -> list[tuple[int, JsonObject]]:
    """``(line number, row)`` from a CSV with a header or a JSON list of objects."""
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".json":
        data = json.loads(text)
        if not isinstance(data, list) or not all(isinstance(x, dict) for x in data):
            raise ValueError("a JSON file holds a list of objects")
        return [(i + 1, row) for i, row in enumerate(data)]
    reader = csv.DictReader(io.StringIO(text))
    return [(reader.line_num, {k: v for k, v in row.items() if v not in ("", None)})
            for row in reader]


def parse_rows(rows: Sequence[tuple[int, JsonMapping]]) -> list[ProductRow]:
    out, seen = [], set()
    for line, row in rows:
        try:
            item = ProductRow.model_validate(row)
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(x) for x in first["loc"])
            raise ValueError(f"line {line}: {where}: {first['msg']}") from err
        if item.product_id in seen:
            raise ValueError(f"line {line}: product {item.product_id} appears twice")
        if (item.supplier_id is None) != (item.cost_fen is None):
            raise ValueError(f"line {line}: supplier_id and cost_fen go together")
        seen.add(item.product_id)
        out.append(item)
    return out


def _database(args: argparse.Namespace) -> Database:
    from cloud_bridge.config import load_config
    from cloud_bridge.db import open_database

    return open_database(load_config(args.config))


def _import(args: argparse.Namespace) -> int:
    import asyncio

    from cloud_bridge.config import ConfigError
    from cloud_bridge.errors import BridgeError

    from . import suppliers

    try:
        items = parse_rows(read_rows(args.file))
    except OSError as err:
        return _fail(f"{args.file}: {err.strerror or err}")
    except (ValueError, json.JSONDecodeError) as err:
        return _fail(f"{args.file}: {err}")

    async def run() -> int:
        db = _database(args)
        try:
            async with db.session() as s:
                offers = 0
                for it in items:
                    await suppliers.upsert_product(
                        s, product_id=it.product_id, name_zh=it.name_zh, name_en=it.name_en,
                        category=it.category, shelf_life_days=it.shelf_life_days,
                        near_expiry_days=it.near_expiry_days, vat_rate_bp=it.vat_rate_bp)
                    if it.supplier_id is not None:
                        await suppliers.set_supplier_product(
                            s, supplier_id=it.supplier_id, product_id=it.product_id,
                            cost_fen=it.cost_fen or 0, pack_size=it.pack_size)
                        offers += 1
            return offers
        finally:
            await db.close()

    try:
        offers = asyncio.run(run())
    except ConfigError as err:
        return _fail(str(err))
    except BridgeError as err:
        return _fail(err.detail)
    print(json.dumps({"products": len(items), "supplier_prices": offers}))
    return 0


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as err:
        raise SystemExit(f"cloud-bridge supply: --date: not a day: {text}") from err


def _propose(args: argparse.Namespace) -> int:
    import asyncio

    from .jobs import run_proposals

    day = _day(args.date)

    async def run() -> list[JsonObject]:
        db = _database(args)
        try:
            return await run_proposals(db, day, args.store)
        finally:
            await db.close()

    for line in asyncio.run(run()):
        print(json.dumps(line, ensure_ascii=False))
    return 0


def _scan(args: argparse.Namespace) -> int:
    import asyncio

    from .jobs import run_scans

    day = _day(args.date)

    async def run() -> dict[str, int]:
        db = _database(args)
        try:
            return await run_scans(db, day)
        finally:
            await db.close()

    print(json.dumps(asyncio.run(run())))
    return 0
