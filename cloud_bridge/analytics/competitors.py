"""Competitor price lists: CSV import, matching by barcode, price index per category.

CSV columns (header required): ``barcode, price`` (yuan, e.g. ``12.50``) and optionally
``observed_on`` (``YYYY-MM-DD``, default: the import day). The price index of a category
is ``100 * sum(own list price) / sum(competitor price)`` over the products matched by
barcode (each barcode at the latest observation, averaged over competitors): above 100
the chain is dearer than the market.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from decimal import Decimal, InvalidOperation

import polars as pl
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge.db import bulk_insert
from cloud_bridge.errors import InvalidRequest
from cloud_bridge.models import now

from .models import AnalyticsProduct, CompetitorPrice

MAX_ROWS = 100_000
_BARCODE = re.compile(r"^\d{8,14}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_price_list(text: str, today: date) -> list[tuple[str, int, str]]:
    """``(barcode, price_fen, observed_on)`` rows; a bad row is refused with its line."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    fields = {f.strip().lower() for f in reader.fieldnames or []}
    if not {"barcode", "price"} <= fields:
        raise InvalidRequest("price list CSV needs the columns barcode and price")
    rows: dict[tuple[str, str], tuple[str, int, str]] = {}
    for i, raw in enumerate(reader, start=2):
        row = {k.strip().lower(): (v or "").strip() for k, v in raw.items() if k}
        code, price, day = row.get("barcode", ""), row.get("price", ""), row.get("observed_on")
        if not _BARCODE.match(code):
            raise InvalidRequest(f"line {i}: barcode {code[:20]!r} is not 8-14 digits")
        try:
            fen = Decimal(price) * 100
        except InvalidOperation as err:
            raise InvalidRequest(f"line {i}: price {price[:20]!r} is not a number") from err
        if fen != fen.to_integral_value() or not 0 < fen < 10**10:
            raise InvalidRequest(f"line {i}: price {price[:20]!r} is not a yuan amount")
        day = day or today.isoformat()
        try:
            if not _DATE.match(day):
                raise ValueError(day)
            date.fromisoformat(day)
        except ValueError as err:
            raise InvalidRequest(f"line {i}: observed_on {day[:20]!r} is not a date") from err
        rows[(code, day)] = (code, int(fen), day)
        if len(rows) > MAX_ROWS:
            raise InvalidRequest(f"more than {MAX_ROWS} rows")
    if not rows:
        raise InvalidRequest("the price list has no rows")
    return list(rows.values())


async def import_price_list(session: AsyncSession, competitor: str, text: str) -> int:
    """Store (replace) the competitor's prices of the list; returns rows stored."""
    rows = parse_price_list(text, now().date())
    for code, _, day in rows:
        await session.execute(delete(CompetitorPrice).where(
            CompetitorPrice.competitor == competitor, CompetitorPrice.barcode == code,
            CompetitorPrice.observed_on == day))
    at = now()
    await session.execute(*bulk_insert(session, CompetitorPrice, [
        {"competitor": competitor, "barcode": c, "observed_on": d, "price": p,
         "currency": "CNY", "imported_at": at} for c, p, d in rows]))
    return len(rows)


def price_index(own: pl.DataFrame, market: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(index per category, products above the market)``.

    ``own``: barcode, product_id, category, list_price; ``market``: competitor, barcode,
    observed_on, price (fen).
    """
    latest = (market.sort("observed_on").group_by("competitor", "barcode").last()
              .group_by("barcode").agg(pl.col("price").mean().alias("market_price"),
                                       pl.len().alias("competitors")))
    matched = own.join(latest, on="barcode", how="inner")
    index = (matched.group_by("category").agg(
        pl.len().alias("matched"), pl.col("list_price").sum().alias("own_total"),
        pl.col("market_price").sum().alias("market_total"))
        .with_columns((100 * pl.col("own_total") / pl.col("market_total")).alias("index"))
        .rename({"category": "key"}).sort("key"))
    above = (matched.filter(pl.col("list_price") > pl.col("market_price"))
             .with_columns(((pl.col("list_price") / pl.col("market_price")) - 1)
                           .alias("above_by"))
             .sort(["above_by", "product_id"], descending=[True, False])
             .select("product_id", "barcode", "category", "list_price", "market_price",
                     "competitors", "above_by"))
    return index, above


async def competitor_report(session: AsyncSession) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The price index and above-market list from the stored prices and product dimension."""
    own = pl.DataFrame((await session.execute(select(
        AnalyticsProduct.barcode, AnalyticsProduct.product_id, AnalyticsProduct.category,
        AnalyticsProduct.list_price).where(AnalyticsProduct.barcode.is_not(None)))).all(),
        schema={"barcode": pl.Utf8, "product_id": pl.Utf8, "category": pl.Utf8,
                "list_price": pl.Int64}, orient="row")
    market = pl.DataFrame((await session.execute(select(
        CompetitorPrice.competitor, CompetitorPrice.barcode, CompetitorPrice.observed_on,
        CompetitorPrice.price))).all(),
        schema={"competitor": pl.Utf8, "barcode": pl.Utf8, "observed_on": pl.Utf8,
                "price": pl.Int64}, orient="row")
    return price_index(own, market)
