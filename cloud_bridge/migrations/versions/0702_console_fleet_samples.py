"""console: fleet samples per store (kiosks online, queue age) for the charts over time

Revision ID: 0702_console_fleet_samples
Revises: 0701_console
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0702_console_fleet_samples"
down_revision: str | None = "0701_console"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "console_fleet_samples",
        sa.Column("store", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("online", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("queue_depth", sa.Integer(), nullable=False),
        sa.Column("oldest_unsent_s", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("store", "at", name=op.f("pk_console_fleet_samples")),
    )


def downgrade() -> None:
    op.drop_table("console_fleet_samples")
