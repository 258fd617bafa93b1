"""finance fapiao: e-invoices (数电发票) issued for invoice requests, blue and red-letter

Revision ID: 0306_finance_fapiao
Revises: 0305_finance_expenses
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0306_finance_fapiao"
down_revision: str | None = "0305_finance_expenses"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "finance_fapiao",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True,
                  nullable=False),
        sa.Column("invoice_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  nullable=False),
        sa.Column("store", sa.String(length=64), nullable=False),
        sa.Column("color", sa.String(length=4), nullable=False),
        sa.Column("apply_id", sa.String(length=64), nullable=False),
        sa.Column("blue_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("source", sa.String(length=80), nullable=True),
        sa.Column("reason_code", sa.String(length=2), nullable=True),
        sa.Column("confirmation_no", sa.String(length=40), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("tax", sa.BigInteger(), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=True),
        sa.Column("code", sa.String(length=12), nullable=True),
        sa.Column("issued_at", sa.String(length=32), nullable=True),
        sa.Column("file_key", sa.String(length=200), nullable=True),
        sa.Column("file_sha256", sa.String(length=64), nullable=True),
        sa.Column("error", sa.String(length=300), nullable=True),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("total > 0 AND tax >= 0 AND tax < total",
                           name=op.f("ck_finance_fapiao_amounts")),
        sa.ForeignKeyConstraint(["blue_id"], ["finance_fapiao.id"],
                                name=op.f("fk_finance_fapiao_blue_id_finance_fapiao")),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"],
                                name=op.f("fk_finance_fapiao_invoice_id_invoices")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_finance_fapiao")),
        sa.UniqueConstraint("apply_id", name=op.f("uq_finance_fapiao_apply_id")),
    )
    op.create_index(op.f("ix_finance_fapiao_invoice_id"), "finance_fapiao", ["invoice_id"])
    op.create_index(op.f("ix_finance_fapiao_store"), "finance_fapiao", ["store"])
    op.create_index(op.f("ix_finance_fapiao_status"), "finance_fapiao", ["status"])


def downgrade() -> None:
    op.drop_table("finance_fapiao")
