"""security: login failure counters (lockout), audit lines, idempotency records

Revision ID: 1201_security
Revises: 0201_price_books
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1201_security"
down_revision: str | None = "0201_price_books"
branch_labels: str | Sequence[str] | None = ("security",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sec_login_failures",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("username", name=op.f("pk_sec_login_failures")),
    )
    op.create_table(
        "sec_audit",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=128), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.String(length=500), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sec_audit")),
    )
    op.create_index(op.f("ix_sec_audit_at"), "sec_audit", ["at"], unique=False)
    op.create_table(
        "sec_idempotency",
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("actor", "key", name=op.f("pk_sec_idempotency")),
    )
    op.create_index(op.f("ix_sec_idempotency_created_at"), "sec_idempotency", ["created_at"],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_sec_idempotency_created_at"), table_name="sec_idempotency")
    op.drop_table("sec_idempotency")
    op.drop_index(op.f("ix_sec_audit_at"), table_name="sec_audit")
    op.drop_table("sec_audit")
    op.drop_table("sec_login_failures")
