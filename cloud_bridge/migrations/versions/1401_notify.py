"""notify: subscribe-message grants and the outbox

Revision ID: 1401_notify
Revises: 0201_price_books
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1401_notify"
down_revision: str | None = "0201_price_books"
branch_labels: str | Sequence[str] | None = ("notify",)
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "notify_grants",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("openid", sa.String(length=64), nullable=False),
        sa.Column("template_key", sa.String(length=32), nullable=False),
        sa.Column("remaining", sa.Integer(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_grants")),
        sa.UniqueConstraint("openid", "template_key", name="uq_notify_grants"),
    )
    op.create_table(
        "notify_messages",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("dedupe_key", sa.String(length=128), nullable=False),
        sa.Column("openid", sa.String(length=64), nullable=False),
        sa.Column("template_key", sa.String(length=32), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("page", sa.String(length=128), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=200), nullable=True),
        sa.Column("next_try_at", TS, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("sent_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_messages")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_notify_messages_dedupe_key")),
    )
    with op.batch_alter_table("notify_messages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notify_messages_openid"), ["openid"], unique=False)
        batch_op.create_index(batch_op.f("ix_notify_messages_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("notify_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notify_messages_status"))
        batch_op.drop_index(batch_op.f("ix_notify_messages_openid"))
    op.drop_table("notify_messages")
    op.drop_table("notify_grants")
