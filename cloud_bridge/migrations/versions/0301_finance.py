"""finance: ledger accounts, journal entries and lines (balanced, immutable), item costs

Revision ID: 0301_finance
Revises: 0201_price_books
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from cloud_bridge.finance import ddl

revision: str = "0301_finance"
down_revision: str | None = "0201_price_books"
branch_labels: str | Sequence[str] | None = ("finance",)
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "finance_accounts",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("store", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name_zh", sa.String(length=120), nullable=False),
        sa.Column("name_en", sa.String(length=120), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_finance_accounts")),
        sa.UniqueConstraint("store", "code", name=op.f("uq_finance_accounts_store")),
    )
    op.create_table(
        "finance_entries",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("store", sa.String(length=64), nullable=False),
        sa.Column("source_type", sa.String(length=32), nullable=False),
        sa.Column("source_id", sa.String(length=160), nullable=False),
        sa.Column("business_date", sa.String(length=10), nullable=False),
        sa.Column("occurred_at", TS, nullable=False),
        sa.Column("memo", sa.String(length=200), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("reverses_id", sa.BigInteger(), nullable=True),
        sa.Column("posted_by", sa.String(length=128), nullable=False),
        sa.Column("posted_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_finance_entries")),
        sa.UniqueConstraint("source_type", "source_id",
                            name=op.f("uq_finance_entries_source_type")),
    )
    op.create_index("ix_finance_entries_store_date", "finance_entries",
                    ["store", "business_date"])
    op.create_table(
        "finance_lines",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("entry_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  nullable=False),
        sa.Column("debit", sa.BigInteger(), nullable=False),
        sa.Column("credit", sa.BigInteger(), nullable=False),
        sa.Column("memo", sa.String(length=200), nullable=True),
        sa.CheckConstraint("debit >= 0 AND credit >= 0 AND (debit = 0) <> (credit = 0)",
                           name=op.f("ck_finance_lines_one_side")),
        sa.ForeignKeyConstraint(["account_id"], ["finance_accounts.id"],
                                name=op.f("fk_finance_lines_account_id_finance_accounts")),
        sa.ForeignKeyConstraint(["entry_id"], ["finance_entries.id"],
                                name=op.f("fk_finance_lines_entry_id_finance_entries"),
                                deferrable=True, initially="DEFERRED"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_finance_lines")),
        sa.UniqueConstraint("entry_id", "line_no", name=op.f("uq_finance_lines_entry_id")),
    )
    op.create_index(op.f("ix_finance_lines_entry_id"), "finance_lines", ["entry_id"])
    op.create_index(op.f("ix_finance_lines_account_id"), "finance_lines", ["account_id"])
    op.create_table(
        "finance_item_costs",
        sa.Column("store", sa.String(length=64), nullable=False),
        sa.Column("product_id", sa.String(length=64), nullable=False),
        sa.Column("qty", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("last_unit_cost", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("store", "product_id", name=op.f("pk_finance_item_costs")),
    )
    for statement in ddl.statements(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for fn in ("finance_entry_balanced", "finance_line_sealed", "finance_posted_immutable"):
            op.execute(f"DROP FUNCTION IF EXISTS {fn}() CASCADE")
    op.drop_table("finance_item_costs")
    op.drop_table("finance_lines")
    op.drop_table("finance_entries")
    op.drop_table("finance_accounts")
