"""Stock per store and product: decremented by sales, restored by returns.

Stock is never silently negative: a sale of more than is on hand is still
recorded (the goods left the shop), and the shortfall is stored as an
``oversell`` alert that staff see in the console.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Protocol, TypedDict

from sqlalchemy import insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from common.jsontypes import JsonObject

from .db import bulk_insert, compiled_once, table_of
from .models import Alert, Base, Stock, now

log = logging.getLogger(__name__)

OVERSELL = "oversell"


class StockObserver(Protocol):
    """Called inside the transaction of every :func:`apply_deltas` with the same deltas."""

    async def __call__(
        self, session: AsyncSession, deltas: Mapping[tuple[str, str], int], *, source: str,
        context: Mapping[tuple[str, str], JsonObject] | None,
    ) -> None: ...


#: Observers of stock changes, registered by the domains that follow stock
#: (:func:`observe_stock`), in registration order.
STOCK_OBSERVERS: list[StockObserver] = []


def observe_stock(observer: StockObserver) -> StockObserver:
    """Register ``observer`` once (a domain does it when its package is imported)."""
    if observer not in STOCK_OBSERVERS:
        STOCK_OBSERVERS.append(observer)
    return observer


def dialect_insert(session: AsyncSession,
                   model: type[Base]) -> sqlite.Insert | postgresql.Insert:
    """``INSERT`` with ``ON CONFLICT`` support for the session's backend."""
    name = session.get_bind().dialect.name
    # Core table, not the ORM entity: bulk rows skip the ORM's per-row bookkeeping.
    table = table_of(model)
    return postgresql.insert(table) if name == "postgresql" else sqlite.insert(table)


async def apply_deltas(
    session: AsyncSession,
    deltas: Mapping[tuple[str, str], int],
    *,
    source: str,
    context: Mapping[tuple[str, str], JsonObject] | None = None,
) -> list[Alert]:
    """Add ``delta`` to each (store, product) in one statement; alert on any shortfall.

    Keys are applied in sorted order so that concurrent workers lock rows in the
    same order (no deadlocks between two batches touching the same products).
    """
    keys = sorted(k for k, d in deltas.items() if d)
    if not keys:
        return []
    at = now()
    rows = [
        {"store": s, "product_id": p, "on_hand": deltas[(s, p)], "updated_at": at} for s, p in keys
    ]
    upsert, params = bulk_insert(session, Stock, rows)
    stmt = compiled_once(session, ("inventory.deltas", *rows[0]), lambda: (
        upsert.on_conflict_do_update(
            index_elements=[Stock.store, Stock.product_id],
            set_={"on_hand": Stock.on_hand + upsert.excluded.on_hand,
                  "updated_at": upsert.excluded.updated_at},
        ).returning(Stock.store, Stock.product_id, Stock.on_hand)))
    result = await session.execute(stmt, params)
    alerts: list[Alert] = []
    for store, product_id, on_hand in result.all():
        delta = deltas[(store, product_id)]
        if on_hand < 0 and delta < 0:
            shortfall = min(-delta, -on_hand)
            detail: JsonObject = {"shortfall": shortfall, "on_hand": on_hand, "source": source}
            # The batch's per-order breakdown ("orders") is for the observers, not the alert.
            detail.update((k, v) for k, v in (context or {}).get((store, product_id), {}).items()
                          if k != "orders")
            alerts.append(
                Alert(kind=OVERSELL, store=store, product_id=product_id,
                      kiosk=_text(detail.get("kiosk")), order_no=_text(detail.get("order_no")),
                      detail=detail,
                      created_at=at, resolved=False)
            )
    if alerts:
        await add_alerts(session, alerts)
        first = alerts[0]
        log.warning("oversell of %d product(s), e.g. store %s product %s on hand %s",
                    len(alerts), first.store, first.product_id, (first.detail or {}).get("on_hand"))
    # Domains that follow stock (the supply chain takes units from lots first-expiring-
    # first and keeps movement rows with their source document) registered themselves:
    # this module never imports them, they import it.
    for observer in STOCK_OBSERVERS:
        await observer(session, deltas, source=source, context=context)
    return alerts


async def set_aside(
    session: AsyncSession,
    deltas: Mapping[tuple[str, str], int],
    *,
    source: str,
    context: Mapping[tuple[str, str], JsonObject] | None = None,
) -> None:
    """Goods that come back but not for sale (a return kept in quarantine or with the
    damaged goods, ``context[key]["location"]``): the sellable total stays as it is, and
    the domains that follow stock by location record them."""
    if any(deltas.values()):
        for observer in STOCK_OBSERVERS:
            await observer(session, deltas, source=source, context=context)


async def add_alerts(session: AsyncSession, alerts: list[Alert]) -> None:
    """Insert alerts in one statement (a busy batch can raise hundreds)."""
    at = now()
    await session.execute(insert(table_of(Alert)), [
        {"kind": a.kind, "store": a.store, "kiosk": a.kiosk, "product_id": a.product_id,
         "order_no": a.order_no, "detail": a.detail, "created_at": a.created_at or at,
         "resolved": False}
        for a in alerts
    ])


async def set_on_hand(session: AsyncSession, store: str, product_id: str, on_hand: int) -> Stock:
    """Set the counted stock of one product (a stock take)."""
    stmt = dialect_insert(session, Stock).values(
        store=store, product_id=product_id, on_hand=on_hand, updated_at=now()
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[Stock.store, Stock.product_id],
        set_={"on_hand": stmt.excluded.on_hand, "updated_at": stmt.excluded.updated_at},
    )
    await session.execute(stmt)
    row = await session.get(Stock, (store, product_id), populate_existing=True)
    if row is None:  # upserted just above, in this transaction
        raise RuntimeError(f"stock row {store}/{product_id} missing after its upsert")
    return row


async def list_stock(
    session: AsyncSession, store: str | None, product_id: str | None, limit: int, offset: int
) -> list[Stock]:
    q = select(Stock).order_by(Stock.store, Stock.product_id).limit(limit).offset(offset)
    if store is not None:
        q = q.where(Stock.store == store)
    if product_id is not None:
        q = q.where(Stock.product_id == product_id)
    return list((await session.scalars(q)).all())


def _text(value: object) -> str | None:
    """A context's text value for a column (``None`` when it has none)."""
    return value if isinstance(value, str) else None


class StockJson(TypedDict):
    store: str
    product_id: str
    on_hand: int
    updated_at: str | None


def stock_json(row: Stock) -> StockJson:
    return {
        "store": row.store,
        "product_id": row.product_id,
        "on_hand": row.on_hand,
        "updated_at": row.updated_at.isoformat() if row.updated_at else None,
    }


def alert_json(row: Alert) -> JsonObject:
    return {
        "id": row.id,
        "kind": row.kind,
        "store": row.store,
        "kiosk": row.kiosk,
        "product_id": row.product_id,
        "order_no": row.order_no,
        "detail": row.detail or {},
        "created_at": row.created_at.isoformat(),
        "resolved": row.resolved,
    }
