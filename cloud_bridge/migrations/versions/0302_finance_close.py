"""finance close: daily closes per store and their mismatches against provider bills

Revision ID: 0302_finance_close
Revises: 0301_finance
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0302_finance_close"
down_revision: str | None = "0301_finance"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "finance_closes",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("store", sa.String(length=64), nullable=False),
        sa.Column("business_date", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("checked", sa.Integer(), nullable=False),
        sa.Column("providers", sa.String(length=200), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("reconciled_at", TS, nullable=True),
        sa.Column("closed_at", TS, nullable=True),
        sa.Column("closed_by", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_finance_closes")),
        sa.UniqueConstraint("store", "business_date", name=op.f("uq_finance_closes_store")),
    )
    op.create_table(
        "finance_close_mismatches",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("close_id", BigId, nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("out_trade_no", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("orders_amount", sa.BigInteger(), nullable=True),
        sa.Column("bill_amount", sa.BigInteger(), nullable=True),
        sa.Column("detail", sa.String(length=300), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("resolved_by", sa.String(length=128), nullable=True),
        sa.Column("resolved_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["close_id"], ["finance_closes.id"],
                                name=op.f("fk_finance_close_mismatches_close_id_finance_closes")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_finance_close_mismatches")),
        sa.UniqueConstraint("close_id", "method", "out_trade_no", "kind",
                            name=op.f("uq_finance_close_mismatches_close_id")),
    )
    op.create_index(op.f("ix_finance_close_mismatches_close_id"), "finance_close_mismatches",
                    ["close_id"])


def downgrade() -> None:
    op.drop_table("finance_close_mismatches")
    op.drop_table("finance_closes")
