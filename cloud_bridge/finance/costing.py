"""Moving average cost per store and product (移动加权平均), fed by goods receipts.

Receipts add units and their value (excl. VAT); a sale takes units out at the
current average, rounded half up to the fen, so the value left always equals
what came in minus what went out (the inventory account agrees with the sum of
``finance_item_costs.value``). Selling more than is on hand values the excess at
the last receipt's unit cost.
"""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge.models import now

from .models import ItemCost

# The row shape of a SELECT that is locked as it is.
RowsT = TypeVar("RowsT", bound=tuple[object, ...])


def round_half_up(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded half away from zero, in integers only."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    sign = -1 if numerator < 0 else 1
    q, r = divmod(abs(numerator), denominator)
    return sign * (q + (1 if 2 * r >= denominator else 0))


_LOADED = "finance_item_costs_loaded"


def _loaded(session: AsyncSession) -> dict[tuple[str, str], ItemCost | None]:
    """Rows loaded in the current transaction, by key (``None``: no row); a rollback
    forgets them with it. Held here, since the session's identity map only holds
    weak references."""
    txn = session.sync_session.get_transaction()
    held = session.info.get(_LOADED)
    if held is None or held[0] is not txn:
        held = (txn, {})
        session.info[_LOADED] = held
    return held[1]


def _lock(session: AsyncSession, q: Select[RowsT]) -> Select[RowsT]:
    return q.with_for_update() if session.get_bind().dialect.name == "postgresql" else q


async def preload(session: AsyncSession, keys: set[tuple[str, str]]) -> None:
    """Load (and on PostgreSQL lock) the cost rows of ``(store, product_id)`` in one query,
    so that a posting batch then reads and updates them without a query each."""
    loaded = _loaded(session)
    wanted = keys - set(loaded)
    for store in {k[0] for k in wanted}:
        products = sorted(p for s, p in wanted if s == store)
        rows = (await session.scalars(_lock(session, select(ItemCost).where(
            ItemCost.store == store, ItemCost.product_id.in_(products))))).all()
        found = {(r.store, r.product_id): r for r in rows}
        for key in wanted:
            if key[0] == store:
                loaded[key] = found.get(key)


async def _find(session: AsyncSession, store: str, product_id: str) -> ItemCost | None:
    key = (store, product_id)
    if key not in _loaded(session):
        await preload(session, {key})
    return _loaded(session)[key]


async def receive(session: AsyncSession, store: str, product_id: str, qty: int,
                  unit_cost: int) -> None:
    """Units in at ``unit_cost`` fen each (excl. VAT)."""
    row = await _find(session, store, product_id)
    if row is None:
        row = ItemCost(store=store, product_id=product_id, qty=0, value=0, last_unit_cost=0,
                       updated_at=now())
        session.add(row)
        _loaded(session)[(store, product_id)] = row
    row.qty += qty
    row.value += qty * unit_cost
    row.last_unit_cost = unit_cost
    row.updated_at = now()


async def issue(session: AsyncSession, store: str, product_id: str, qty: int) -> int:
    """Units out (a sale); returns their cost in fen (0 when nothing is known of it)."""
    row = await _find(session, store, product_id)
    if row is None:
        return 0
    on_hand = max(row.qty, 0)
    if on_hand >= qty:
        cost = round_half_up(row.value * qty, on_hand) if on_hand else 0
    else:
        cost = (row.value if on_hand else 0) + (qty - on_hand) * row.last_unit_cost
    row.qty -= qty
    row.value -= cost
    row.updated_at = now()
    return cost


async def unit_cost(session: AsyncSession, store: str, product_id: str) -> int:
    """The current average unit cost (for restocked returns)."""
    row = await _find(session, store, product_id)
    if row is None:
        return 0
    return round_half_up(row.value, row.qty) if row.qty > 0 else row.last_unit_cost
