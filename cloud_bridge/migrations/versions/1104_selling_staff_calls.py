"""selling: kiosks' staff calls (呼叫店员) for the fleet view

Revision ID: 1104_selling_staff_calls
Revises: 1103_selling_claims
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1104_selling_staff_calls"
down_revision: str | None = "1103_selling_claims"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sell_staff_calls",
        sa.Column("store", sa.String(length=64), nullable=False),
        sa.Column("kiosk", sa.String(length=64), nullable=False),
        sa.Column("call_id", sa.String(length=40), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("called_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_by", sa.String(length=64), nullable=True),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("store", "kiosk", name=op.f("pk_sell_staff_calls")),
    )
    op.create_index(op.f("ix_sell_staff_calls_active"), "sell_staff_calls", ["active"],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_sell_staff_calls_active"), table_name="sell_staff_calls")
    op.drop_table("sell_staff_calls")
