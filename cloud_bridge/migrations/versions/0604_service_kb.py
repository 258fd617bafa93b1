"""service: knowledge base articles, versions, search synonyms

Revision ID: 0604_service_kb
Revises: 0603_service_appointments
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0604_service_kb"
down_revision: str | None = "0603_service_appointments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "svc_kb_articles",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("store", sa.String(length=64), nullable=True),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("latest_version", sa.Integer(), nullable=False),
        sa.Column("published_version", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=True),
        sa.Column("body_html", sa.Text(), nullable=True),
        sa.Column("body_text", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_svc_kb_articles")),
    )
    with op.batch_alter_table("svc_kb_articles", schema=None) as batch_op:
        for col in ("store", "category", "status", "updated_at"):
            batch_op.create_index(batch_op.f(f"ix_svc_kb_articles_{col}"), [col], unique=False)

    op.create_table(
        "svc_kb_versions",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("article_id", BIG_ID, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        sa.Column("editor", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["svc_kb_articles.id"],
                                name=op.f("fk_svc_kb_versions_article_id_svc_kb_articles"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_svc_kb_versions")),
        sa.UniqueConstraint("article_id", "version", name="uq_svc_kb_version"),
    )
    with op.batch_alter_table("svc_kb_versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_svc_kb_versions_article_id"), ["article_id"],
                              unique=False)

    op.create_table(
        "svc_kb_synonyms",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("words", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_svc_kb_synonyms")),
    )


def downgrade() -> None:
    op.drop_table("svc_kb_synonyms")
    with op.batch_alter_table("svc_kb_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_svc_kb_versions_article_id"))
    op.drop_table("svc_kb_versions")
    with op.batch_alter_table("svc_kb_articles", schema=None) as batch_op:
        for col in ("store", "category", "status", "updated_at"):
            batch_op.drop_index(batch_op.f(f"ix_svc_kb_articles_{col}"))
    op.drop_table("svc_kb_articles")
