"""security: the first use of each member code (token id), for replays across kiosks

Revision ID: 1203_security_member_codes
Revises: 1202_security_topups
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1203_security_member_codes"
down_revision: str | None = "1202_security_topups"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sec_member_code_uses",
        sa.Column("token_id", sa.String(length=64), nullable=False),
        sa.Column("member_id", sa.String(length=64), nullable=False),
        sa.Column("store", sa.String(length=64), nullable=False),
        sa.Column("kiosk", sa.String(length=64), nullable=False),
        sa.Column("order_no", sa.String(length=64), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token_id", name=op.f("pk_sec_member_code_uses")),
    )
    op.create_index(op.f("ix_sec_member_code_uses_used_at"), "sec_member_code_uses",
                    ["used_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_sec_member_code_uses_used_at"), table_name="sec_member_code_uses")
    op.drop_table("sec_member_code_uses")
