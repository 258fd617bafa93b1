"""selling: parked carts (挂单) settled once at a staffed till or another kiosk

Revision ID: 1105_selling_parked
Revises: 1104_selling_staff_calls
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1105_selling_parked"
down_revision: str | None = "1104_selling_staff_calls"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sell_parked_settlements",
        sa.Column("store", sa.String(length=64), nullable=False),
        sa.Column("park_no", sa.String(length=64), nullable=False),
        sa.Column("kiosk", sa.String(length=64), nullable=False),
        sa.Column("how", sa.String(length=8), nullable=False),
        sa.Column("by", sa.String(length=128), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=True),
        sa.Column("amount", sa.Integer(), nullable=True),
        sa.Column("reference", sa.String(length=64), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("store", "park_no", name=op.f("pk_sell_parked_settlements")),
    )


def downgrade() -> None:
    op.drop_table("sell_parked_settlements")
