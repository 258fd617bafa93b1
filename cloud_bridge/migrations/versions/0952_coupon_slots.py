"""marketing: offline coupon slots reserved per kiosk

Revision ID: 0952_coupon_slots
Revises: 0951_marketing
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0952_coupon_slots"
down_revision: str | None = "0951_marketing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('mkt_coupon_slots',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('store', sa.String(length=64), nullable=False),
    sa.Column('kiosk', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('issued_at', sa.BigInteger(), nullable=False),
    sa.Column('expires_at', sa.BigInteger(), nullable=False),
    sa.Column('order_no', sa.String(length=64), nullable=True),
    sa.Column('coupon_id', sa.String(length=24), nullable=True),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_mkt_coupon_slots_kiosk', 'mkt_coupon_slots',
                    ['store', 'kiosk', 'status'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_mkt_coupon_slots_kiosk', table_name='mkt_coupon_slots')
    op.drop_table('mkt_coupon_slots')
