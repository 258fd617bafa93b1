"""security: who topped up stored value, where, approved by whom (sec_topups)

Revision ID: 1202_security_topups
Revises: 1201_security
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1202_security_topups"
down_revision: str | None = "1201_security"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sec_topups",
        sa.Column("entry_key", sa.String(length=128), nullable=False),
        sa.Column("member_id", sa.String(length=64), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("store", sa.String(length=64), nullable=True),
        sa.Column("requested_by", sa.String(length=128), nullable=False),
        sa.Column("approved_by", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("entry_key", name=op.f("pk_sec_topups")),
    )
    op.create_index(op.f("ix_sec_topups_member_id"), "sec_topups", ["member_id"], unique=False)
    op.create_index(op.f("ix_sec_topups_requested_by"), "sec_topups", ["requested_by"],
                    unique=False)
    op.create_index(op.f("ix_sec_topups_created_at"), "sec_topups", ["created_at"],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_sec_topups_created_at"), table_name="sec_topups")
    op.drop_index(op.f("ix_sec_topups_requested_by"), table_name="sec_topups")
    op.drop_index(op.f("ix_sec_topups_member_id"), table_name="sec_topups")
    op.drop_table("sec_topups")
