"""New mini-program orders to the store's kiosks: a retained snapshot per store on
``kiosk/v1/{store}/mp_orders`` (:mod:`contract.wire.mp_orders`), shown on the staff TUI
until staff acknowledge the order there.

A paid mini-program order leaves an open ``mp_order`` alert (``orders.mark_paid``, in the
payment's transaction). The snapshot lists the store's open ones, built from the database
alone (no clock, no worker id), so every worker publishes the same bytes for the same
alerts. :mod:`.runtime` publishes what changed every couple of seconds from any worker;
an acknowledgement at a kiosk (``mp_order.ack``) resolves the alert and publishes the
store's new list at once.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol, TypedDict

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_bridge.models import Alert
from cloud_bridge.orders import MP_ORDER_ALERT
from contract.wire.mp_orders import MAX_MP_ORDER_ALERTS, MpOrderAlertItem, MpOrderAlerts
from contract.wire.topics import store_mp_orders

if TYPE_CHECKING:
    from cloud_bridge.db import Database

log = logging.getLogger(__name__)



class Publish(Protocol):
    """How the lists go out: ``Ingest.publish(topic, payload, qos=, retain=)``."""

    def __call__(self, topic: str, payload: bytes, *, qos: int,
                 retain: bool) -> Awaitable[object]: ...


_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
Fingerprint = tuple[int, int]


def _item(alert: Alert) -> MpOrderAlertItem:
    d = alert.detail or {}
    return MpOrderAlertItem(
        id=alert.id, order_no=alert.order_no or "", fulfillment=str(d.get("fulfillment", "")),
        total=int(d.get("total") or 0), currency=str(d.get("currency") or "CNY"),
        products=int(d.get("products") or 0), since=alert.created_at)


async def snapshot(session: AsyncSession, store: str) -> MpOrderAlerts:
    """The store's open mini-program order alerts, oldest (waiting longest) first."""
    open_alerts = (Alert.store == store, Alert.kind == MP_ORDER_ALERT,
                   Alert.resolved.is_(False))
    rows = (await session.scalars(select(Alert).where(*open_alerts).order_by(Alert.id)
                                  .limit(MAX_MP_ORDER_ALERTS))).all()
    count = await session.scalar(select(func.count()).select_from(Alert).where(*open_alerts))
    # The newest order of the store dates the list (an acknowledgement keeps the date:
    # the kiosk takes a list as new as the one it has).
    as_of = await session.scalar(select(func.max(Alert.created_at)).where(
        Alert.store == store, Alert.kind == MP_ORDER_ALERT))
    return MpOrderAlerts(store=store, as_of=as_of or _EPOCH, items=[_item(a) for a in rows],
                         more=max(0, int(count or 0) - len(rows)))


async def fingerprint(session: AsyncSession) -> Fingerprint:
    """Changes whenever an order alert is added or resolved anywhere (one cheap query):
    the count and the id sum of the open ones."""
    row = (await session.execute(select(func.count(), func.coalesce(func.sum(Alert.id), 0))
                                 .where(Alert.kind == MP_ORDER_ALERT,
                                        Alert.resolved.is_(False)))).one()
    return int(row[0]), int(row[1])


async def stores_with_orders(session: AsyncSession) -> list[str]:
    """Stores that ever had a mini-program order alert (none left: an empty list)."""
    stores = await session.scalars(select(Alert.store).where(Alert.kind == MP_ORDER_ALERT)
                                   .distinct().order_by(Alert.store))
    return list(stores)


async def publish_store(db: Database, publish: Publish, store: str) -> bytes:
    """Publish (retained, QoS 1) the store's list now; the bytes published."""
    async with db.session() as s:
        payload = (await snapshot(s, store)).encode()
    await publish(store_mp_orders(store), payload, qos=1, retain=True)
    return payload


async def publish_changed(db: Database, publish: Publish, sent: dict[str, str],
                          seen: list[Fingerprint]) -> list[str]:
    """Publish each store's list that differs from ``sent`` (store -> digest of what this
    worker last published, updated once the broker took it). ``seen`` keeps the last
    fingerprint: nothing changed, nothing is read. Returns the stores published."""
    async with db.session() as s:
        now = await fingerprint(s)
        if seen and seen[0] == now and sent:
            return []
        payloads = {store: (await snapshot(s, store)).encode()
                    for store in await stores_with_orders(s)}
    out = []
    for store, payload in payloads.items():
        digest = hashlib.sha256(payload).hexdigest()
        if sent.get(store) == digest:
            continue
        await publish(store_mp_orders(store), payload, qos=1, retain=True)
        sent[store] = digest
        out.append(store)
    seen[:] = [now]
    if out:
        log.info("new mini-program orders published for %d store(s)", len(out))
    return out


class Acknowledged(TypedDict):
    alert_id: int
    order_no: str | None
    resolved: bool
    already: bool


class NotTheStores(LookupError):
    """No open-or-closed mini-program order alert of this id in the calling store."""


async def acknowledge(session: AsyncSession, store: str, kiosk: str, alert_id: int,
                      by: str) -> Acknowledged:
    """Staff at ``store``/``kiosk`` acknowledged the order: its alert is resolved (once).

    Raises:
        NotTheStores: no such alert, another store's, or not a mini-program order's.
    """
    alert = await session.get(Alert, alert_id, with_for_update=True)
    if alert is None or alert.store != store or alert.kind != MP_ORDER_ALERT:
        raise NotTheStores(f"no new mini-program order {alert_id} in store {store}")
    already = alert.resolved
    if not already:
        alert.resolved = True
        alert.detail = {**(alert.detail or {}), "acknowledged_by": f"{kiosk}:{by}",
                        "acknowledged_at": datetime.now(UTC).isoformat()}
        log.info("mini-program order %s acknowledged at %s/%s by %s", alert.order_no, store,
                 kiosk, by)
    return {"alert_id": alert.id, "order_no": alert.order_no, "resolved": True,
            "already": already}
