"""jobs: fleet bundles, groups, jobs and per-kiosk executions (staged rollouts)

Revision ID: 1001_jobs
Revises: 0201_price_books
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1001_jobs"
down_revision: str | None = "0201_price_books"
branch_labels: str | Sequence[str] | None = ("jobs",)
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "fleet_bundles",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("uploaded_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_fleet_bundles")),
    )
    op.create_table(
        "fleet_group_members",
        sa.Column("group", sa.String(length=64), nullable=False),
        sa.Column("store", sa.String(length=64), nullable=False),
        sa.Column("kiosk", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("group", "store", "kiosk", name=op.f("pk_fleet_group_members")),
    )
    op.create_table(
        "fleet_jobs",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("bundle_sha256", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("target", sa.JSON(), nullable=False),
        sa.Column("stages", sa.JSON(), nullable=False),
        sa.Column("stage", sa.Integer(), nullable=False),
        sa.Column("max_concurrency", sa.Integer(), nullable=False),
        sa.Column("abort_failure_pct", sa.Integer(), nullable=False),
        sa.Column("abort_min_finished", sa.Integer(), nullable=False),
        sa.Column("abort_health_failures", sa.Integer(), nullable=True),
        sa.Column("timeout_s", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("state_reason", sa.String(length=300), nullable=True),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["bundle_sha256"], ["fleet_bundles.sha256"],
                                name=op.f("fk_fleet_jobs_bundle_sha256_fleet_bundles")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fleet_jobs")),
    )
    op.create_index(op.f("ix_fleet_jobs_bundle_sha256"), "fleet_jobs", ["bundle_sha256"])
    op.create_index(op.f("ix_fleet_jobs_state"), "fleet_jobs", ["state"])
    op.create_table(
        "fleet_executions",
        sa.Column("job_id", BIG_ID, nullable=False),
        sa.Column("store", sa.String(length=64), nullable=False),
        sa.Column("kiosk", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=True),
        sa.Column("cmd_id", sa.String(length=64), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["job_id"], ["fleet_jobs.id"],
                                name=op.f("fk_fleet_executions_job_id_fleet_jobs")),
        sa.PrimaryKeyConstraint("job_id", "store", "kiosk", name=op.f("pk_fleet_executions")),
    )
    op.create_index("ix_fleet_executions_kiosk", "fleet_executions", ["store", "kiosk"])


def downgrade() -> None:
    op.drop_index("ix_fleet_executions_kiosk", table_name="fleet_executions")
    op.drop_table("fleet_executions")
    op.drop_index(op.f("ix_fleet_jobs_state"), table_name="fleet_jobs")
    op.drop_index(op.f("ix_fleet_jobs_bundle_sha256"), table_name="fleet_jobs")
    op.drop_table("fleet_jobs")
    op.drop_table("fleet_group_members")
    op.drop_table("fleet_bundles")
