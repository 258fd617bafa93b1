"""finance expenses: expenses and other income with their attached documents

Revision ID: 0305_finance_expenses
Revises: 0304_finance_budgets
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0305_finance_expenses"
down_revision: str | None = "0304_finance_budgets"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "finance_expenses",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True,
                  nullable=False),
        sa.Column("store", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("code", sa.String(length=80), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("vat", sa.BigInteger(), nullable=False),
        sa.Column("paid_via", sa.String(length=8), nullable=False),
        sa.Column("business_date", sa.String(length=10), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("attachment_key", sa.String(length=200), nullable=True),
        sa.Column("attachment_type", sa.String(length=64), nullable=True),
        sa.Column("attachment_size", sa.Integer(), nullable=True),
        sa.Column("attachment_sha256", sa.String(length=64), nullable=True),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount > 0 AND vat >= 0 AND vat < amount",
                           name=op.f("ck_finance_expenses_amounts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_finance_expenses")),
    )
    op.create_index(op.f("ix_finance_expenses_store"), "finance_expenses", ["store"])


def downgrade() -> None:
    op.drop_table("finance_expenses")
