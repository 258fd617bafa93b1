"""supply settings: approval limit, match tolerances, risk thresholds, AQL (one JSON row)

Revision ID: 0402_supply_settings
Revises: 0401_supply
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0402_supply_settings"
down_revision: str | None = "0401_supply"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('supply_settings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('body', sa.JSON(), nullable=False),
    sa.Column('updated_by', sa.String(length=128), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supply_settings'))
    )


def downgrade() -> None:
    op.drop_table('supply_settings')
