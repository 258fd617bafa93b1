"""price_books: published price books per store (canonical bytes, sha256, current flag)

Revision ID: 0201_price_books
Revises: 0101_payments
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0201_price_books"
down_revision: str | None = "0101_payments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "price_books",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True,
                  nullable=False),
        sa.Column("store", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("is_current", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_price_books")),
        sa.UniqueConstraint("store", "version", name="uq_price_books_store_version"),
    )
    # One current book per store (a partial unique index; SQLite and PostgreSQL have them).
    op.create_index("ix_price_books_current", "price_books", ["store"], unique=True,
                    sqlite_where=sa.text("is_current"), postgresql_where=sa.text("is_current"))


def downgrade() -> None:
    op.drop_index("ix_price_books_current", table_name="price_books")
    op.drop_table("price_books")
