"""campaigns: campaigns shipped with the price book and the orders that got them

Revision ID: 0961_campaigns
Revises: 0951_marketing
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0961_campaigns"
down_revision: str | None = "0951_marketing"
branch_labels: str | Sequence[str] | None = ("campaigns",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('mkt_campaigns',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('store', sa.String(length=64), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name_zh', sa.String(length=64), nullable=False),
    sa.Column('name_en', sa.String(length=64), nullable=True),
    sa.Column('spec', sa.JSON(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_by', sa.String(length=128), nullable=True),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mkt_campaigns'))
    )
    op.create_index(op.f('ix_mkt_campaigns_store'), 'mkt_campaigns', ['store'], unique=False)
    op.create_table('mkt_campaign_orders',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('campaign_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('order_no', sa.String(length=64), nullable=False),
    sa.Column('store', sa.String(length=64), nullable=False),
    sa.Column('member_id', sa.String(length=64), nullable=True),
    sa.Column('discount', sa.BigInteger(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['mkt_campaigns.id'], name=op.f('fk_mkt_campaign_orders_campaign_id_mkt_campaigns')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mkt_campaign_orders')),
    sa.UniqueConstraint('campaign_id', 'order_no', name=op.f('uq_mkt_campaign_orders_campaign_id'))
    )
    op.create_index('ix_mkt_campaign_orders_order', 'mkt_campaign_orders', ['order_no'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_mkt_campaign_orders_order', table_name='mkt_campaign_orders')
    op.drop_table('mkt_campaign_orders')
    op.drop_index(op.f('ix_mkt_campaigns_store'), table_name='mkt_campaigns')
    op.drop_table('mkt_campaigns')
