"""service: after-sales requests and return periods

Revision ID: 0605_service_aftersales
Revises: 0604_service_kb
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0605_service_aftersales"
down_revision: str | None = "0604_service_kb"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "svc_aftersales",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("store", sa.String(length=64), nullable=False),
        sa.Column("order_no", sa.String(length=64), nullable=False),
        sa.Column("openid", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=24), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=True),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("photos", sa.JSON(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.String(length=128), nullable=True),
        sa.Column("decision_note", sa.String(length=500), nullable=True),
        sa.Column("return_id", sa.BigInteger(), nullable=True),
        sa.Column("refund_request_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_svc_aftersales")),
    )
    with op.batch_alter_table("svc_aftersales", schema=None) as batch_op:
        for col in ("store", "order_no", "openid", "status"):
            batch_op.create_index(batch_op.f(f"ix_svc_aftersales_{col}"), [col], unique=False)

    op.create_table(
        "svc_aftersale_rules",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_svc_aftersale_rules")),
        sa.UniqueConstraint("category", name="uq_svc_aftersale_rules_category"),
    )


def downgrade() -> None:
    op.drop_table("svc_aftersale_rules")
    with op.batch_alter_table("svc_aftersales", schema=None) as batch_op:
        for col in ("store", "order_no", "openid", "status"):
            batch_op.drop_index(batch_op.f(f"ix_svc_aftersales_{col}"))
    op.drop_table("svc_aftersales")
