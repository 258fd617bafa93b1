"""analytics kiosk sessions: one row per session.summary a kiosk sent

Revision ID: 0502_analytics_kiosk_sessions
Revises: 0501_analytics
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0502_analytics_kiosk_sessions"
down_revision: str | None = "0501_analytics"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "analytics_kiosk_sessions",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("store", sa.String(length=64), nullable=False),
        sa.Column("kiosk", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("business_date", sa.String(length=10), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("ended_at", TS, nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("items_scanned", sa.Integer(), nullable=False),
        sa.Column("items_removed", sa.Integer(), nullable=False),
        sa.Column("payment_attempts", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=True),
        sa.Column("pay_seconds", sa.Float(), nullable=True),
        sa.Column("errors", sa.JSON(), nullable=True),
        sa.Column("error_count", sa.Integer(), nullable=False),
        sa.Column("help_calls", sa.Integer(), nullable=False),
        sa.Column("order_no", sa.String(length=64), nullable=True),
        sa.Column("member_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_analytics_kiosk_sessions")),
    )
    op.create_index(op.f("ix_analytics_kiosk_sessions_store"), "analytics_kiosk_sessions",
                    ["store"])
    op.create_index(op.f("ix_analytics_kiosk_sessions_business_date"),
                    "analytics_kiosk_sessions", ["business_date"])


def downgrade() -> None:
    op.drop_table("analytics_kiosk_sessions")
