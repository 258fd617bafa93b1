"""finance budgets: per store, account and month

Revision ID: 0304_finance_budgets
Revises: 0303_finance_banking
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0304_finance_budgets"
down_revision: str | None = "0303_finance_banking"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "finance_budgets",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True,
                  nullable=False),
        sa.Column("store", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=80), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("updated_by", sa.String(length=128), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_finance_budgets_amount_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_finance_budgets")),
        sa.UniqueConstraint("store", "code", "month", name=op.f("uq_finance_budgets_store")),
    )


def downgrade() -> None:
    op.drop_table("finance_budgets")
