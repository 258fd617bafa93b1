"""service: community posts, comments, reports, forbidden words

Revision ID: 0607_service_community
Revises: 0606_service_delivery
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0607_service_community"
down_revision: str | None = "0606_service_delivery"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def _moderation() -> list[sa.Column]:
    return [
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("held_reason", sa.String(length=16), nullable=True),
        sa.Column("report_count", sa.Integer(), nullable=False),
        sa.Column("moderated_by", sa.String(length=128), nullable=True),
        sa.Column("moderated_at", TS, nullable=True),
        sa.Column("moderation_note", sa.String(length=500), nullable=True),
        sa.Column("created_at", TS, nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "svc_community_posts",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("store", sa.String(length=64), nullable=True),
        sa.Column("member_id", sa.String(length=32), nullable=False),
        sa.Column("openid", sa.String(length=64), nullable=False),
        sa.Column("text", sa.String(length=1000), nullable=False),
        sa.Column("images", sa.JSON(), nullable=False),
        *_moderation(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_svc_community_posts")),
    )
    with op.batch_alter_table("svc_community_posts", schema=None) as batch_op:
        for col in ("store", "openid", "status"):
            batch_op.create_index(batch_op.f(f"ix_svc_community_posts_{col}"), [col],
                                  unique=False)
        batch_op.create_index("ix_svc_community_posts_member", ["member_id", "created_at"],
                              unique=False)

    op.create_table(
        "svc_community_comments",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("post_id", BIG_ID, nullable=False),
        sa.Column("store", sa.String(length=64), nullable=True),
        sa.Column("member_id", sa.String(length=32), nullable=False),
        sa.Column("openid", sa.String(length=64), nullable=False),
        sa.Column("text", sa.String(length=500), nullable=False),
        *_moderation(),
        sa.ForeignKeyConstraint(["post_id"], ["svc_community_posts.id"],
                                name=op.f("fk_svc_community_comments_post_id_svc_community_posts"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_svc_community_comments")),
    )
    with op.batch_alter_table("svc_community_comments", schema=None) as batch_op:
        for col in ("post_id", "store", "status"):
            batch_op.create_index(batch_op.f(f"ix_svc_community_comments_{col}"), [col],
                                  unique=False)
        batch_op.create_index("ix_svc_community_comments_member", ["member_id", "created_at"],
                              unique=False)

    op.create_table(
        "svc_community_reports",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("target_id", BIG_ID, nullable=False),
        sa.Column("member_id", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_svc_community_reports")),
        sa.UniqueConstraint("kind", "target_id", "member_id",
                            name="uq_svc_community_reports_once"),
    )

    op.create_table(
        "svc_community_words",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("word", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_svc_community_words")),
        sa.UniqueConstraint("word", name=op.f("uq_svc_community_words_word")),
    )


def downgrade() -> None:
    op.drop_table("svc_community_words")
    op.drop_table("svc_community_reports")
    with op.batch_alter_table("svc_community_comments", schema=None) as batch_op:
        batch_op.drop_index("ix_svc_community_comments_member")
        for col in ("post_id", "store", "status"):
            batch_op.drop_index(batch_op.f(f"ix_svc_community_comments_{col}"))
    op.drop_table("svc_community_comments")
    with op.batch_alter_table("svc_community_posts", schema=None) as batch_op:
        batch_op.drop_index("ix_svc_community_posts_member")
        for col in ("store", "openid", "status"):
            batch_op.drop_index(batch_op.f(f"ix_svc_community_posts_{col}"))
    op.drop_table("svc_community_posts")
