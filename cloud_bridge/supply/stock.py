"""Stock by store, product and lot: receipts into lots, first-expiring-first issues,
transfers through a transit location, stock counts (盘点) and write-offs.

Every change is a :class:`Movement` row naming its source document. The per-product
total stays in the core ``stock`` table (:mod:`cloud_bridge.inventory`), which keeps
the oversell alert: taking more than the lots hold records the shortfall on the
movement and lets the total go negative there, never silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from sqlalchemy import SQLColumnExpression, bindparam, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge import inventory
from cloud_bridge.db import bulk_insert, compiled_once, table_of
from cloud_bridge.errors import Conflict, InvalidRequest, NotFound
from cloud_bridge.models import Stock, now
from common.jsontypes import JsonMapping, JsonObject

from .models import SHELF, Lot, Movement, StockCount, Transfer, TransferLine
from .returns import restore_returned

# Sources of inventory.apply_deltas that this module issues itself (the hook skips them).
OWN_SOURCE_PREFIX = "supply:"
UNLOTTED = None


@dataclass(frozen=True, slots=True)
class Taken:
    """Units taken from one lot."""

    lot_no: str
    expiry_date: date | None
    qty: int
    unit_cost_fen: int | None = None


def transit_location(transfer_id: int) -> str:
    return f"transit-{transfer_id}"


def _fefo_order() -> tuple[SQLColumnExpression[object], ...]:
    # Lots without an expiry date go last; among equals the older lot first.
    return (Lot.store, Lot.product_id, Lot.expiry_date.is_(None), Lot.expiry_date, Lot.id)


async def _lots_for_update(session: AsyncSession, keys: list[tuple[str, str]],
                           location: str = SHELF) -> list[Lot]:
    stmt = (select(Lot).where(tuple_(Lot.store, Lot.product_id).in_(keys),
                              Lot.location == location, Lot.qty > 0)
            .order_by(*_fefo_order()).with_for_update())
    return list((await session.scalars(stmt)).all())


async def _set_lot_qty(session: AsyncSession, takes: list[dict[str, int]]) -> None:
    if not takes:
        return
    table = table_of(Lot)
    stmt = (update(table).where(table.c.id == bindparam("b_id"))
            .values(qty=table.c.qty - bindparam("b_take")))
    await session.execute(stmt, takes)


async def _movements(session: AsyncSession, rows: list[JsonObject]) -> None:
    if rows:
        at = now()
        for row in rows:
            row.setdefault("at", at)
            row.setdefault("shortfall", 0)
            row.setdefault("actor", None)
        insert, params = bulk_insert(session, Movement, rows)
        # Every ingest batch of sales writes movements: compiled once per column set on
        # PostgreSQL (db.compiled_once), as the batch's other bulk statements are.
        await session.execute(compiled_once(session, ("supply.movements", *rows[0]),
                                            lambda: insert), params)


def _text(value: object) -> str | None:
    """A context's text value (``None`` when it has none)."""
    return value if isinstance(value, str) else None


def _order_part(entry: object) -> tuple[str, int, str | None]:
    """One ``(order_no, units, kiosk)`` of a sale context's ``orders``."""
    if not isinstance(entry, tuple | list) or len(entry) != 3:
        raise TypeError(f"sale context order {entry!r} is not (order_no, units, kiosk)")
    order_no, units, kiosk = entry
    if not isinstance(units, int) or not (kiosk is None or isinstance(kiosk, str)):
        raise TypeError(f"sale context order {entry!r} is not (order_no, units, kiosk)")
    return str(order_no), units, kiosk


def _sale_parts(delta: int, info: JsonMapping) -> list[tuple[str | None, int, str | None]]:
    """A sale's units per order: ``(order_no, units, kiosk)`` in the batch's order.

    The ingest sums a batch's lines per store and product; ``info["orders"]`` says which
    order sold how many, so each order's movements name it. Units no order claims (a
    caller that gave no breakdown) stay on the one document ``info`` names.
    """
    listed = info.get("orders", ())
    if not isinstance(listed, tuple | list):
        raise TypeError(f"sale context orders {listed!r} is not a list")
    parts: list[tuple[str | None, int, str | None]] = [
        (o, n, k) for o, n, k in map(_order_part, listed) if n > 0]
    rest = -delta - sum(n for _, n, _ in parts)
    if rest > 0 or not parts:
        parts.append((_text(info.get("order_no")), max(rest, 0) if parts else -delta,
                      _text(info.get("kiosk"))))
    return parts


@dataclass(slots=True)
class _LotLeft:
    """A shelf lot's units still to take in one batch of sales."""

    id: int
    lot_no: str
    qty: int


async def record_stock_deltas(
    session: AsyncSession,
    deltas: Mapping[tuple[str, str], int],
    *,
    source: str,
    context: Mapping[tuple[str, str], JsonObject] | None = None,
) -> None:
    """Lot-level side of :func:`cloud_bridge.inventory.apply_deltas` (sales, returns, ...).

    A negative delta takes units first-expiring-first from the store's lots, order by
    order when the context lists the batch's orders (each movement names its order);
    what no lot holds is recorded as a movement without lot with its ``shortfall`` (the
    total may still cover it from units never received into a lot). A returned order's
    units (context ``return_id``) go back into the lots that order took them from
    (:mod:`.returns`); any other positive delta (a manual adjustment) has no lot: one
    movement without lot.
    """
    if source.startswith(OWN_SOURCE_PREFIX):
        return
    keys = sorted(k for k, d in deltas.items() if d)
    if not keys:
        return
    ctx = context or {}
    out = [k for k in keys if deltas[k] < 0]
    by_key: dict[tuple[str, str], list[_LotLeft]] = {}
    if out:
        # Plain rows, not ORM objects: this runs in every ingest batch of sales.
        stmt = (select(Lot.id, Lot.store, Lot.product_id, Lot.lot_no, Lot.qty)
                .where(tuple_(Lot.store, Lot.product_id).in_(out), Lot.location == SHELF,
                       Lot.qty > 0)
                .order_by(*_fefo_order()).with_for_update())
        for row in (await session.execute(stmt)).all():
            by_key.setdefault((row.store, row.product_id), []).append(
                _LotLeft(row.id, row.lot_no, row.qty))
    takes: list[dict[str, int]] = []
    rows: list[JsonObject] = []
    for key in keys:
        store, product_id = key
        info: JsonMapping = ctx.get(key, {})
        delta = deltas[key]
        if delta > 0 and info.get("return_id") is not None:
            rows += await restore_returned(session, store, product_id, delta, info,
                                           kind=source)
            continue
        doc_id = str(info.get("order_no") or info.get("reason") or source)[:128]
        base: JsonObject = {
            "store": store, "location": info.get("location") or SHELF,
            "product_id": product_id, "kind": source,
            "doc_type": "order" if info.get("order_no") else source, "doc_id": doc_id,
            "actor": info.get("by") or (f"kiosk:{info['kiosk']}" if info.get("kiosk") else None)}
        if delta > 0:
            rows.append({**base, "lot_no": UNLOTTED, "qty": delta})
            continue
        lots = by_key.get(key, [])
        for order_no, need, kiosk in _sale_parts(delta, info):
            doc = ({**base, "doc_type": "order", "doc_id": order_no[:128],
                    "actor": info.get("by") or (f"kiosk:{kiosk}" if kiosk else None)}
                   if order_no else base)
            while need and lots:
                lot = lots[0]
                take = min(need, lot.qty)
                need -= take
                lot.qty -= take
                takes.append({"b_id": lot.id, "b_take": take})
                rows.append({**doc, "lot_no": lot.lot_no, "qty": -take})
                if lot.qty == 0:
                    lots.pop(0)
            if need:
                rows.append({**doc, "lot_no": UNLOTTED, "qty": -need, "shortfall": need})
    await _set_lot_qty(session, takes)
    await _movements(session, rows)


async def receive_into_lot(
    session: AsyncSession, *, store: str, product_id: str, lot_no: str,
    expiry_date: date | None, qty: int, kind: str, doc_type: str, doc_id: str,
    actor: str | None, unit_cost_fen: int | None = None, location: str = SHELF,
) -> None:
    """Add ``qty`` units to a lot (created on first receipt) with one movement row."""
    if qty <= 0:
        raise InvalidRequest("quantity must be positive")
    if location == SHELF:
        # The store total first: every path locks the stock row before the lots.
        await inventory.apply_deltas(session, {(store, product_id): qty},
                                     source=OWN_SOURCE_PREFIX + kind)
    stmt = inventory.dialect_insert(session, Lot).values(
        store=store, location=location, product_id=product_id, lot_no=lot_no,
        expiry_date=expiry_date, qty=qty, unit_cost_fen=unit_cost_fen, received_at=now())
    stmt = stmt.on_conflict_do_update(
        index_elements=[Lot.store, Lot.location, Lot.product_id, Lot.lot_no],
        set_={"qty": Lot.qty + stmt.excluded.qty,
              "expiry_date": stmt.excluded.expiry_date})
    await session.execute(stmt)
    rows = [{"store": store, "location": location, "product_id": product_id,
             "lot_no": lot_no, "qty": qty, "kind": kind, "doc_type": doc_type,
             "doc_id": doc_id, "actor": actor}]
    if location == SHELF:
        # Oversold before (the total was below zero): those units left the shop without
        # a lot, so the first lot received pays them back, and lots never count more than
        # the store holds. Both legs are movements: the lot's and the lot-less one.
        after = await session.scalar(select(Stock.on_hand).where(
            Stock.store == store, Stock.product_id == product_id))
        owed = min(qty, max(0, qty - int(after or 0)))
        if owed:
            await session.execute(update(Lot).where(
                Lot.store == store, Lot.location == location, Lot.product_id == product_id,
                Lot.lot_no == lot_no).values(qty=Lot.qty - owed))
            settle = {"kind": "oversell_settled", "doc_type": doc_type, "doc_id": doc_id,
                      "actor": actor, "store": store, "location": location,
                      "product_id": product_id}
            rows += [{**settle, "lot_no": lot_no, "qty": -owed},
                     {**settle, "lot_no": UNLOTTED, "qty": owed}]
    await _movements(session, rows)


async def take_from_lots(
    session: AsyncSession, *, store: str, product_id: str, qty: int, kind: str,
    doc_type: str, doc_id: str, actor: str | None, lot_no: str | None = None,
    location: str = SHELF,
) -> list[Taken]:
    """Take ``qty`` units from one lot (``lot_no``) or first-expiring-first; all or nothing.

    Raises :class:`Conflict` when the lots hold fewer units: a transfer, a return to a
    supplier or a write-off cannot send away goods that are not there.
    """
    if qty <= 0:
        raise InvalidRequest("quantity must be positive")
    if location == SHELF:
        await inventory.apply_deltas(session, {(store, product_id): -qty},
                                     source=OWN_SOURCE_PREFIX + kind)
    lots = await _lots_for_update(session, [(store, product_id)], location)
    if lot_no is not None:
        lots = [lot for lot in lots if lot.lot_no == lot_no]
    available = sum(lot.qty for lot in lots)
    if available < qty:
        which = f"lot {lot_no}" if lot_no else "its lots"
        raise Conflict(f"{product_id} at {store}: {which} hold {available}, not {qty}")
    need, taken, takes, rows = qty, [], [], []
    for lot in lots:
        if need == 0:
            break
        take = min(need, lot.qty)
        need -= take
        takes.append({"b_id": lot.id, "b_take": take})
        taken.append(Taken(lot.lot_no, lot.expiry_date, take, lot.unit_cost_fen))
        rows.append({"store": store, "location": location, "product_id": product_id,
                     "lot_no": lot.lot_no, "qty": -take, "kind": kind, "doc_type": doc_type,
                     "doc_id": doc_id, "actor": actor})
    await _set_lot_qty(session, takes)
    await _movements(session, rows)
    return taken


# --------------------------------------------------------------------------- transfers


async def send_transfer(session: AsyncSession, *, from_store: str, to_store: str,
                        lines: list[tuple[str, int, str | None]], actor: str) -> Transfer:
    """Move goods out of ``from_store`` into transit (lines: product, qty, optional lot)."""
    if from_store == to_store:
        raise InvalidRequest("a transfer needs two different stores")
    tr = Transfer(from_store=from_store, to_store=to_store, status="in_transit", lines=[],
                  created_by=actor, created_at=now())
    session.add(tr)
    await session.flush()
    doc = str(tr.id)
    sent: list[TransferLine] = []
    for product_id, qty, lot_no in sorted(lines, key=lambda x: (x[0], x[2] or "")):
        for t in await take_from_lots(session, store=from_store, product_id=product_id, qty=qty,
                                      lot_no=lot_no, kind="transfer_out", doc_type="transfer",
                                      doc_id=doc, actor=actor):
            await receive_into_lot(session, store=from_store, product_id=product_id,
                                   lot_no=t.lot_no, expiry_date=t.expiry_date, qty=t.qty,
                                   kind="transit_in", doc_type="transfer", doc_id=doc,
                                   actor=actor, unit_cost_fen=t.unit_cost_fen,
                                   location=transit_location(tr.id))
            sent.append(TransferLine(
                product_id=product_id, lot_no=t.lot_no, qty=t.qty,
                expiry_date=t.expiry_date.isoformat() if t.expiry_date else None,
                unit_cost_fen=t.unit_cost_fen))
    tr.lines = sent
    return tr


async def receive_transfer(session: AsyncSession, transfer_id: int, actor: str) -> Transfer:
    """The receiving store books the goods in transit onto its shelf (once)."""
    tr = await session.get(Transfer, transfer_id, with_for_update=True)
    if tr is None:
        raise NotFound(f"transfer {transfer_id} not found")
    if tr.status != "in_transit":
        raise Conflict(f"transfer {transfer_id} is already {tr.status}")
    doc = str(tr.id)
    for ln in tr.lines:
        await take_from_lots(session, store=tr.from_store, product_id=ln["product_id"],
                             qty=ln["qty"], lot_no=ln["lot_no"], kind="transit_out",
                             doc_type="transfer", doc_id=doc, actor=actor,
                             location=transit_location(tr.id))
        expiry = date.fromisoformat(ln["expiry_date"]) if ln["expiry_date"] else None
        await receive_into_lot(session, store=tr.to_store, product_id=ln["product_id"],
                               lot_no=ln["lot_no"], expiry_date=expiry, qty=ln["qty"],
                               kind="transfer_in", doc_type="transfer", doc_id=doc, actor=actor,
                               unit_cost_fen=ln.get("unit_cost_fen"))
    tr.status, tr.received_at = "received", now()
    return tr


# --------------------------------------------------------------------------- counts


async def post_count(session: AsyncSession, *, store: str,
                     lines: list[tuple[str, str, date | None, int]], actor: str) -> StockCount:
    """Post a stock count (盘点): per (product, lot, expiry, counted) the variance moves.

    The variance of each lot against its book quantity becomes a ``count_variance``
    movement (and changes the store total by the same amount).
    """
    count = StockCount(store=store, status="posted", lines=[], created_by=actor,
                       created_at=now())
    session.add(count)
    await session.flush()
    doc, out = str(count.id), []
    for product_id, lot_no, expiry, counted in sorted(lines, key=lambda x: (x[0], x[1])):
        await session.execute(select(Stock).where(Stock.store == store,
                                                  Stock.product_id == product_id)
                              .with_for_update())
        lot = await session.scalar(select(Lot).where(
            Lot.store == store, Lot.location == SHELF, Lot.product_id == product_id,
            Lot.lot_no == lot_no).with_for_update())
        expected = lot.qty if lot is not None else 0
        variance = counted - expected
        if variance > 0:
            await receive_into_lot(session, store=store, product_id=product_id, lot_no=lot_no,
                                   expiry_date=expiry or (lot.expiry_date if lot else None),
                                   qty=variance, kind="count_variance", doc_type="stock_count",
                                   doc_id=doc, actor=actor)
        elif variance < 0:
            await take_from_lots(session, store=store, product_id=product_id, qty=-variance,
                                 lot_no=lot_no, kind="count_variance", doc_type="stock_count",
                                 doc_id=doc, actor=actor)
        out.append({"product_id": product_id, "lot_no": lot_no, "expected": expected,
                    "counted": counted, "variance": variance})
    count.lines = out
    return count


async def write_off(session: AsyncSession, *, store: str, product_id: str, lot_no: str,
                    qty: int, reason: str, actor: str, location: str = SHELF) -> list[Taken]:
    """Remove damaged or expired units of one lot (报损): from the shelf (the sellable
    total goes down too) or from returned goods kept aside (``quarantine``, ``damaged``)."""
    return await take_from_lots(session, store=store, product_id=product_id, qty=qty,
                                lot_no=lot_no, kind="write_off", doc_type="write_off",
                                doc_id=reason[:128], actor=actor, location=location)


async def lots(session: AsyncSession, store: str | None, product_id: str | None,
               location: str | None = SHELF, limit: int = 200, offset: int = 0) -> list[Lot]:
    q = select(Lot).where(Lot.qty != 0).order_by(*_fefo_order()).limit(limit).offset(offset)
    if store is not None:
        q = q.where(Lot.store == store)
    if product_id is not None:
        q = q.where(Lot.product_id == product_id)
    if location is not None:
        q = q.where(Lot.location == location)
    return list((await session.scalars(q)).all())


async def movements(session: AsyncSession, store: str | None, product_id: str | None,
                    limit: int = 200, offset: int = 0) -> list[Movement]:
    q = select(Movement).order_by(Movement.id.desc()).limit(limit).offset(offset)
    if store is not None:
        q = q.where(Movement.store == store)
    if product_id is not None:
        q = q.where(Movement.product_id == product_id)
    return list((await session.scalars(q)).all())
