"""selling: refused receipt claims (rate limits and support)

Revision ID: 1103_selling_claims
Revises: 1102_selling_badges
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1103_selling_claims"
down_revision: str | None = "1102_selling_badges"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sell_claim_refusals",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True,
                  nullable=False),
        sa.Column("openid", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("order_no", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sell_claim_refusals")),
    )
    for col in ("openid", "source", "at"):
        op.create_index(op.f(f"ix_sell_claim_refusals_{col}"), "sell_claim_refusals", [col],
                        unique=False)


def downgrade() -> None:
    for col in ("openid", "source", "at"):
        op.drop_index(op.f(f"ix_sell_claim_refusals_{col}"), table_name="sell_claim_refusals")
    op.drop_table("sell_claim_refusals")
