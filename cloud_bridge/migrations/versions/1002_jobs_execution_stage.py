"""jobs: the stage each kiosk's execution was sent in (fleet view of executions)

Revision ID: 1002_jobs_execution_stage
Revises: 1001_jobs
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1002_jobs_execution_stage"
down_revision: str | None = "1001_jobs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("fleet_executions", sa.Column("stage", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("fleet_executions") as batch:
        batch.drop_column("stage")
