"""payments tables: payments, payment_refunds, payment_notifications_seen,
member_balances, stored_value_entries

Revision ID: 0101_payments
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0101_payments"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("payments", "payment_refunds", "payment_notifications_seen", "member_balances",
          "stored_value_entries")


def upgrade() -> None:
    from cloud_bridge.payments import models

    bind = op.get_bind()
    for name in TABLES:
        models.Base.metadata.tables[name].create(bind, checkfirst=True)


def downgrade() -> None:
    for name in reversed(TABLES):
        op.drop_table(name)
