"""Stock alerts to the store's kiosks: a retained snapshot per store on
``kiosk/v1/{store}/stock_alerts`` (:mod:`contract.wire.stock`), shown on the staff TUI.

The snapshot is built from the database alone (no clock, no worker id), so every worker
builds the same bytes for the same alerts and publishing it again changes nothing for
the kiosks. :mod:`.runtime` publishes what changed every few seconds from any worker.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from contract.wire.stock import MAX_STOCK_ALERTS, STOCK_ALERT_KINDS, StockAlertItem, StockAlerts
from contract.wire.topics import store_stock_alerts

from .alerts import RESOLVED
from .models import SupplyAlert, SupplyProduct

if TYPE_CHECKING:
    from cloud_bridge.db import Database

log = logging.getLogger(__name__)


class Publish(Protocol):
    """How the snapshot goes out: ``Ingest.publish(topic, payload, qos=, retain=)``."""

    async def __call__(self, topic: str, payload: bytes, *, qos: int, retain: bool) -> None: ...


_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def _item(alert: SupplyAlert, product: SupplyProduct | None) -> StockAlertItem:
    d = alert.detail or {}
    # The detail is JSON the scan wrote; the item's model checks each value it takes.
    return StockAlertItem.model_validate({
        "id": alert.id, "kind": alert.kind, "state": alert.state,
        "product_id": alert.product_id or "",
        "name_zh": product.name_zh if product else None,
        "name_en": product.name_en if product else None,
        "on_hand": d.get("on_hand"), "reorder_point": d.get("reorder_point"),
        "lot_no": d.get("lot_no"), "lot_qty": d.get("qty"), "expiry_date": d.get("expiry_date"),
        "days_left": d.get("days_left"), "since": alert.created_at})


async def snapshot(session: AsyncSession, store: str) -> StockAlerts:
    """The store's open and acknowledged stock alerts, most urgent kind first."""
    rows = (await session.scalars(select(SupplyAlert).where(
        SupplyAlert.store == store, SupplyAlert.kind.in_(STOCK_ALERT_KINDS),
        SupplyAlert.state != RESOLVED))).all()
    rank = {k: i for i, k in enumerate(STOCK_ALERT_KINDS)}
    rows = sorted(rows, key=lambda a: (rank[a.kind], a.product_id or "", a.id))
    # The newest change of any of the store's stock alerts (a resolve too) dates it.
    as_of = await session.scalar(select(func.max(SupplyAlert.updated_at)).where(
        SupplyAlert.store == store, SupplyAlert.kind.in_(STOCK_ALERT_KINDS)))
    ids = {a.product_id for a in rows[:MAX_STOCK_ALERTS] if a.product_id}
    products = {p.product_id: p for p in (await session.scalars(
        select(SupplyProduct).where(SupplyProduct.product_id.in_(ids)))).all()} if ids else {}
    return StockAlerts(store=store, as_of=as_of or _EPOCH,
                       items=[_item(a, products.get(a.product_id or ""))
                              for a in rows[:MAX_STOCK_ALERTS]],
                       more=max(0, len(rows) - MAX_STOCK_ALERTS))


async def stores_with_alerts(session: AsyncSession) -> list[str]:
    """Stores that ever had a stock alert (one with none left gets an empty list)."""
    stores = await session.scalars(select(SupplyAlert.store).where(
        SupplyAlert.store.is_not(None), SupplyAlert.kind.in_(STOCK_ALERT_KINDS))
        .distinct().order_by(SupplyAlert.store))
    return [s for s in stores if s is not None]  # none are: the query excludes them


async def publish_changed(db: Database, publish: Publish, sent: dict[str, str]) -> list[str]:
    """Publish (retained, QoS 1) each store's snapshot that differs from ``sent``.

    ``sent`` maps store -> digest of what this worker last published; it is updated only
    after the broker took the message. Returns the stores published.
    """
    async with db.session() as s:
        payloads = {store: (await snapshot(s, store)).encode()
                    for store in await stores_with_alerts(s)}
    out = []
    for store, payload in payloads.items():
        digest = hashlib.sha256(payload).hexdigest()
        if sent.get(store) == digest:
            continue
        await publish(store_stock_alerts(store), payload, qos=1, retain=True)
        sent[store] = digest
        out.append(store)
    if out:
        log.info("stock alerts published for %d store(s)", len(out))
    return out
