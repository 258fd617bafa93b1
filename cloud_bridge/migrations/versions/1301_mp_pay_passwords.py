"""mp: members' payment passwords for stored value in the mini-program (mp_pay_passwords)

Revision ID: 1301_mp_pay_passwords
Revises: 0201_price_books
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1301_mp_pay_passwords"
down_revision: str | None = "0201_price_books"
branch_labels: str | Sequence[str] | None = ("mp",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "mp_pay_passwords",
        sa.Column("member_id", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_mp_pay_passwords")),
    )


def downgrade() -> None:
    op.drop_table("mp_pay_passwords")
