"""finance banking: bank accounts (encrypted numbers), payouts with maker-checker, audit

Revision ID: 0303_finance_banking
Revises: 0302_finance_close
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0303_finance_banking"
down_revision: str | None = "0302_finance_close"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "finance_bank_accounts",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("store", sa.String(length=64), nullable=False),
        sa.Column("bank_name", sa.String(length=120), nullable=False),
        sa.Column("holder_name", sa.String(length=120), nullable=False),
        sa.Column("number_enc", sa.String(length=200), nullable=False),
        sa.Column("number_last4", sa.String(length=4), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_finance_bank_accounts")),
    )
    op.create_index(op.f("ix_finance_bank_accounts_store"), "finance_bank_accounts", ["store"])
    op.create_table(
        "finance_payouts",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("store", sa.String(length=64), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("bank_account_id", BigId, nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("requested_by", sa.String(length=128), nullable=False),
        sa.Column("requested_at", TS, nullable=False),
        sa.Column("decided_by", sa.String(length=128), nullable=True),
        sa.Column("decided_at", TS, nullable=True),
        sa.CheckConstraint("amount > 0", name=op.f("ck_finance_payouts_amount_positive")),
        sa.ForeignKeyConstraint(
            ["bank_account_id"], ["finance_bank_accounts.id"],
            name=op.f("fk_finance_payouts_bank_account_id_finance_bank_accounts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_finance_payouts")),
    )
    op.create_index(op.f("ix_finance_payouts_store"), "finance_payouts", ["store"])
    op.create_table(
        "finance_payout_events",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("payout_id", BigId, nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(["payout_id"], ["finance_payouts.id"],
                                name=op.f("fk_finance_payout_events_payout_id_finance_payouts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_finance_payout_events")),
    )
    op.create_index(op.f("ix_finance_payout_events_payout_id"), "finance_payout_events",
                    ["payout_id"])


def downgrade() -> None:
    op.drop_table("finance_payout_events")
    op.drop_table("finance_payouts")
    op.drop_table("finance_bank_accounts")
