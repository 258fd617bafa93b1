"""What the bridge's columns hold, checked before an event reaches them.

A kiosk's event is refused with the field's name when a value would not fit the
column it is stored in (a string longer than the column, an integer beyond the
column's type), instead of failing the INSERT of a whole batch with other kiosks'
events in it (SQLite ``OverflowError``, PostgreSQL ``DataError``). The lengths are
read from the models, so a changed column changes the bound with it. Whatever gets
past this (a column added later) is still caught by the per-event retry in
:mod:`.storage`.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel
from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import ColumnProperty, InstrumentedAttribute

from contract.wire.events import Event, OrderCompletedData

from ..models import Order, OrderLine, StoredEvent

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
# Strings kept inside JSON columns (tenders, VAT, discounts, coupons): no column length,
# but an event is a sale, not a document.
JSON_TEXT_MAX = 500
# The whole data payload's nesting: a sale is a few levels deep.
MAX_DEPTH = 8


def _limit(column: InstrumentedAttribute[object]) -> tuple[str, int]:
    """``("str", length)`` or ``("int", max)`` of a mapped column."""
    prop = column.property
    if not isinstance(prop, ColumnProperty):
        raise TypeError(f"{column} is not a column")
    kind = prop.columns[0].type
    if isinstance(kind, String) and kind.length:
        return "str", kind.length
    if isinstance(kind, BigInteger):
        return "int", INT64_MAX
    if isinstance(kind, Integer):
        return "int", INT32_MAX
    raise TypeError(f"no bound for {column}")


def _limits(fields: dict[str, InstrumentedAttribute[object]]) -> dict[str, tuple[str, int]]:
    # Read once from the models: looking them up per field of every event was a
    # measurable part of the ingest's CPU.
    return {name: _limit(column) for name, column in fields.items()}


EVENT_FIELDS = _limits({"event_id": StoredEvent.event_id, "type": StoredEvent.type,
                        "store": StoredEvent.store, "kiosk": StoredEvent.kiosk,
                        "seq": StoredEvent.seq})
ORDER_FIELDS = _limits({"order_no": Order.order_no, "member_id": Order.member_id,
                        "currency": Order.currency, "subtotal": Order.subtotal,
                        "discount_total": Order.discount_total, "total": Order.total})
LINE_FIELDS = _limits({"line_no": OrderLine.line_no, "product_id": OrderLine.product_id,
                       "barcode": OrderLine.barcode, "name_zh": OrderLine.name_zh,
                       "name_en": OrderLine.name_en, "qty": OrderLine.qty,
                       "weight_g": OrderLine.weight_g, "unit_price": OrderLine.unit_price,
                       "list_amount": OrderLine.amount, "discount": OrderLine.discount,
                       "amount": OrderLine.amount})


def _check(obj: BaseModel, fields: dict[str, tuple[str, int]], prefix: str) -> str | None:
    for name, (kind, bound) in fields.items():
        # The fields are named by the table above: each model has the ones it is checked for.
        value: object = getattr(obj, name, None)
        if value is None:
            continue
        if kind == "str" and isinstance(value, str) and len(value) > bound:
            return f"{prefix}{name}: {len(value)} characters, at most {bound}"
        if kind == "int" and isinstance(value, int) and not -bound <= value <= bound:
            return f"{prefix}{name}: {value} is out of range (at most {bound})"
    return None


def _walk(value: object, path: str, depth: int = 0) -> str | None:
    """Every integer within 64 bits and every string bounded, anywhere in ``value``."""
    if depth > MAX_DEPTH:
        return f"{path or 'data'}: nested deeper than {MAX_DEPTH}"
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return None if -INT64_MAX <= value <= INT64_MAX else f"{path}: integer out of range"
    if isinstance(value, float):
        return None if abs(value) < 1e300 else f"{path}: number out of range"
    if isinstance(value, str):
        return None if len(value) <= JSON_TEXT_MAX else f"{path}: longer than {JSON_TEXT_MAX}"
    if isinstance(value, dict):
        items: Iterable[tuple[object, object]] = value.items()
    elif isinstance(value, list | tuple):
        items = enumerate(value)
    else:
        raise TypeError(f"{path}: {type(value).__name__} is not a JSON value")
    for key, sub in items:
        problem = _walk(sub, f"{path}.{key}" if path else str(key), depth + 1)
        if problem is not None:
            return problem
    return None


def _fits(value: object) -> bool:
    """:func:`_walk` without the paths: whether ``value`` has no problem at all.

    Checked first because nearly every event fits, and building each node's path was
    most of the walk's time; the walk then runs only to name the problem. An explicit
    stack with the leaves judged in the loop: recursing through a generator per node
    was 7% of the bridge's CPU per event in the ingest bench (py-spy).
    """
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Iterable[object] = node.values()
        elif isinstance(node, list):
            children = node
        elif _leaf_fits(node, depth):
            continue
        else:
            return False
        below = depth + 1
        for sub in children:
            if below > MAX_DEPTH:
                return False
            if type(sub) is str:
                if len(sub) > JSON_TEXT_MAX:
                    return False
            elif type(sub) is int:
                if not -INT64_MAX <= sub <= INT64_MAX:
                    return False
            elif isinstance(sub, dict | list):
                stack.append((sub, below))
            elif not _leaf_fits(sub, below):
                return False
    return True


def _leaf_fits(value: object, depth: int) -> bool:
    """Whether a value that is not a dict or a list fits, judged as :func:`_walk` does."""
    if depth > MAX_DEPTH:
        return False
    # bool before int: a bool is an int.
    if isinstance(value, str):
        return len(value) <= JSON_TEXT_MAX
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, int):
        return -INT64_MAX <= value <= INT64_MAX
    return _walk(value, "data", depth) is None  # floats and anything unusual


def bounds_problem(ev: Event, data: OrderCompletedData | None) -> str | None:
    """Why ``ev`` would not fit the bridge's columns, or ``None``."""
    problem = _check(ev, EVENT_FIELDS, "")
    if problem is None and data is not None:
        problem = _check(data, ORDER_FIELDS, "data.")
        for line in data.lines:
            problem = problem or _check(line, LINE_FIELDS, f"data.lines.{line.line_no}.")
    if problem is None and not _fits(ev.data):
        problem = _walk(ev.data, "data")
    return problem
