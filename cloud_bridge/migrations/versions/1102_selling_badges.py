"""selling: staff badge revocations

Revision ID: 1102_selling_badges
Revises: 1101_selling
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1102_selling_badges"
down_revision: str | None = "1101_selling"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sell_badge_revocations",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True,
                  nullable=False),
        sa.Column("staff_id", sa.String(length=64), nullable=False),
        sa.Column("token_id", sa.String(length=32), nullable=True),
        sa.Column("store", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("revoked_by", sa.String(length=128), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sell_badge_revocations")),
    )
    op.create_index(op.f("ix_sell_badge_revocations_staff_id"), "sell_badge_revocations",
                    ["staff_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_sell_badge_revocations_staff_id"), table_name="sell_badge_revocations")
    op.drop_table("sell_badge_revocations")
