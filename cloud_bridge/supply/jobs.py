"""The supply chain's daily work: replenishment proposals, stock alerts, supplier risks.

Each step is idempotent per day (proposals keep one run per store and day; alert scans
converge on what is true), so every worker may run it and a crashed run is finished by the
next. Run by ``cloud-bridge supply propose`` / ``supply scan`` (cron or a systemd timer).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select, union
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge.db import Database
from cloud_bridge.models import Stock
from common.jsontypes import JsonObject

from . import alerts, risk, settings
from .models import ReorderRule
from .replenish import propose_orders


async def stores_with_rules(session: AsyncSession) -> list[str]:
    return list((await session.scalars(select(ReorderRule.store).distinct()
                                       .order_by(ReorderRule.store))).all())


async def run_proposals(db: Database, day: date, store: str | None = None) -> list[JsonObject]:
    """The day's proposals per store (one transaction per store, retried on conflicts)."""
    async with db.session() as s:
        stores = [store] if store else await stores_with_rules(s)
        cfg = await settings.load(s)
    out = []
    for name in stores:
        async def work(session: AsyncSession, name: str = name) -> tuple[list[int], bool]:
            return await propose_orders(session, name, day, tz=cfg.timezone)

        ids, created = await db.transact(work)
        out.append({"store": name, "date": day.isoformat(), "created": created,
                    "purchase_orders": ids})
    return out


async def run_scans(db: Database, day: date) -> dict[str, int]:
    """Stock alerts of every store with stock or rules, then the supplier risks."""
    async with db.session() as s:
        q = union(select(Stock.store), select(ReorderRule.store))
        stores = sorted((await s.execute(q)).scalars().all())
        cfg = await settings.load(s)
    counts: dict[str, int] = {}
    for name in stores:
        async def scan(session: AsyncSession, name: str = name) -> int:
            found = await alerts.scan_stock_alerts(session, name, day, tz=cfg.timezone,
                                                   near_expiry_days=cfg.near_expiry_days)
            return len(found)

        counts[name] = await db.transact(scan)

    async def risks(session: AsyncSession) -> int:
        return len(await risk.scan_risks(session, day, cfg))

    counts["risks"] = await db.transact(risks)
    return counts
