"""selling: chain-wide order numbers for kiosk orders stored under legacy numbers

Kiosk order numbers used to be ``{kiosk}-{yyyymmdd}-{seq}``; kiosk ids repeat across
stores, so the cloud now keeps a kiosk order under ``{store}-{kiosk}-{yyyymmdd}-{seq}``
(contract.numbers.cloud_order_no). This puts the store in front of the kiosk orders
already stored under a legacy number, and of the ``order_no`` their payments and alerts
point at, so refunds and reconciliation still find each other. The out_trade_no the
providers know is never changed.

Revision ID: 1101_selling
Revises: 0201_price_books
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1101_selling"
down_revision: str | None = "0201_price_books"
branch_labels: str | Sequence[str] | None = ("selling",)
depends_on: str | Sequence[str] | None = None

_TAIL = re.compile(r"^\d{8}-\d{4,}$")


def _legacy(order_no: str | None, kiosk: str | None) -> bool:
    if not order_no or not kiosk or not order_no.startswith(kiosk + "-"):
        return False
    return bool(_TAIL.match(order_no[len(kiosk) + 1:]))


def _qualify(conn, table: str, where_kiosk_source: str) -> None:
    t = sa.table(table, sa.column("id"), sa.column("order_no"), sa.column("store"),
                 sa.column("kiosk"))
    rows = conn.execute(sa.text(
        f"SELECT id, order_no, store, kiosk FROM {table} WHERE {where_kiosk_source}")).all()
    for row_id, order_no, store, kiosk in rows:
        if _legacy(order_no, kiosk):
            conn.execute(t.update().where(t.c.id == row_id)
                         .values(order_no=f"{store}-{order_no}"))


def upgrade() -> None:
    conn = op.get_bind()
    _qualify(conn, "orders", "source = 'kiosk'")
    _qualify(conn, "payments", "kiosk IS NOT NULL AND order_no IS NOT NULL")
    _qualify(conn, "alerts", "kiosk IS NOT NULL AND order_no IS NOT NULL")


def downgrade() -> None:
    # Not reversible without knowing which numbers were legacy; the new numbers stay
    # valid under the old code (they are plain strings there).
    pass
