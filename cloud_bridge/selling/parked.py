"""Parked carts (挂单) found by number and settled once, at a staffed till or at another
kiosk of the same store.

A kiosk parks a cart with its ``order.parked`` event (the cart's lines and total, the
park number ``P{yyyymmdd}-{kiosk}-{seq}`` shown to the shopper). Staff find it by that
number, within their own store only:

* at a staffed till: ``POST /api/v1/admin/stores/{store}/parked/{park_no}/settle`` with
  the method, the amount (the parked total, exactly) and the till's reference;
* at another kiosk: its TUI takes the cart over (RPC ``parked.take``); that kiosk loads
  the lines and sells them as its own order.

Either way one :class:`~.models.ParkedCartSettlement` row (primary key store + number)
closes it: a second settlement, from anywhere, is refused.
"""

from __future__ import annotations

import json
from typing import Literal, TypedDict, get_args

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge.db import rows_changed
from cloud_bridge.errors import Conflict, InvalidRequest, NotFound
from cloud_bridge.inventory import dialect_insert
from cloud_bridge.models import StoredEvent, now
from common.jsontypes import JsonObject
from contract.wire.events import ORDER_PARKED

from .models import ParkedCartSettlement

TillMethod = Literal["cash", "card", "wechat", "alipay", "stored_value", "other"]
TILL_METHODS: tuple[TillMethod, ...] = get_args(TillMethod)


class SettlementJson(TypedDict):
    how: str
    by: str
    method: str | None
    amount: int | None
    reference: str | None
    at: str


class ParkedCart(TypedDict):
    """A parked cart as the console and the kiosks see it."""

    store: str
    kiosk: str
    park_no: str
    parked_at: str
    total: int
    currency: str
    cart: JsonObject
    status: str
    settlement: SettlementJson | None


def _event_data(payload: str) -> JsonObject:
    """The ``data`` object of a stored event's payload (``{}`` when it has none)."""
    event: object = json.loads(payload)
    data = event.get("data") if isinstance(event, dict) else None
    return data if isinstance(data, dict) else {}


def _fen(value: object) -> int:
    if not isinstance(value, int | float | str):
        raise TypeError(f"a parked total is {type(value).__name__}")
    return int(value)


async def find_parked(session: AsyncSession, store: str, park_no: str) -> ParkedCart | None:
    """The parked cart ``park_no`` of ``store`` with its settlement, or ``None``."""
    rows = (await session.scalars(
        select(StoredEvent).where(StoredEvent.store == store, StoredEvent.type == ORDER_PARKED,
                                  StoredEvent.payload.contains(park_no))
        .order_by(StoredEvent.ts))).all()
    for ev in rows:
        data = _event_data(ev.payload)
        if data.get("park_no") != park_no:
            continue
        settled = await session.get(ParkedCartSettlement, (store, park_no))
        cart = data.get("cart") or {}
        return {
            "store": store, "kiosk": ev.kiosk, "park_no": park_no,
            "parked_at": ev.ts.isoformat(), "total": _fen(data.get("total") or 0),
            "currency": str(data.get("currency") or "CNY"),
            "cart": cart if isinstance(cart, dict) else {},
            "status": "parked" if settled is None else "settled",
            "settlement": None if settled is None else settlement_json(settled),
        }
    return None


def settlement_json(row: ParkedCartSettlement) -> SettlementJson:
    return {"how": row.how, "by": row.by, "method": row.method, "amount": row.amount,
            "reference": row.reference, "at": row.at.isoformat()}


async def _close(session: AsyncSession, cart: ParkedCart, **values: object) -> None:
    stmt = dialect_insert(session, ParkedCartSettlement).values(
        store=cart["store"], park_no=cart["park_no"], kiosk=cart["kiosk"], at=now(), **values
    ).on_conflict_do_nothing(index_elements=[ParkedCartSettlement.store,
                                             ParkedCartSettlement.park_no])
    if await rows_changed(session, stmt) != 1:
        raise Conflict(f"parked cart {cart['park_no']} was already settled")


async def settle_at_till(session: AsyncSession, store: str, park_no: str, *, method: str,
                         amount: int, reference: str | None, actor: str) -> ParkedCart:
    """Staff took the parked total at a staffed till: close the cart once."""
    cart = await find_parked(session, store, park_no)
    if cart is None:
        raise NotFound(f"no parked cart {park_no} in store {store}")
    if cart["status"] != "parked":
        raise Conflict(f"parked cart {park_no} was already settled")
    if amount != cart["total"]:
        raise InvalidRequest(f"amount {amount} is not the parked total {cart['total']}")
    await _close(session, cart, how="till", by=actor[:128], method=method, amount=amount,
                 reference=reference)
    return await find_parked(session, store, park_no) or cart


async def take_at_kiosk(session: AsyncSession, store: str, kiosk: str,
                        park_no: str) -> ParkedCart:
    """Another kiosk of the store takes the cart over: close it once, return the cart."""
    cart = await find_parked(session, store, park_no)
    if cart is None:
        raise NotFound(f"no parked cart {park_no} in store {store}")
    if cart["status"] != "parked":
        raise Conflict(f"parked cart {park_no} was already settled")
    await _close(session, cart, how="kiosk", by=kiosk, method=None, amount=cart["total"],
                 reference=None)
    return cart
