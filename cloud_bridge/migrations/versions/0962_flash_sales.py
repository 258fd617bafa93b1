"""campaigns: flash sales (秒杀) with their buyers and orders

Revision ID: 0962_flash_sales
Revises: 0961_campaigns
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0962_flash_sales"
down_revision: str | None = "0961_campaigns"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('mkt_flash_sales',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('stock', sa.Integer(), nullable=False),
    sa.Column('sold', sa.Integer(), nullable=False),
    sa.Column('per_user_limit', sa.Integer(), nullable=False),
    sa.Column('store', sa.String(length=64), nullable=True),
    sa.Column('product_id', sa.String(length=64), nullable=False),
    sa.Column('name_zh', sa.String(length=64), nullable=False),
    sa.Column('name_en', sa.String(length=64), nullable=True),
    sa.Column('list_price', sa.BigInteger(), nullable=False),
    sa.Column('price', sa.BigInteger(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mkt_flash_sales'))
    )
    op.create_index(op.f('ix_mkt_flash_sales_store'), 'mkt_flash_sales', ['store'], unique=False)
    op.create_table('mkt_flash_buyers',
    sa.Column('sale_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('openid', sa.String(length=64), nullable=False),
    sa.Column('qty', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['sale_id'], ['mkt_flash_sales.id'], name=op.f('fk_mkt_flash_buyers_sale_id_mkt_flash_sales')),
    sa.PrimaryKeyConstraint('sale_id', 'openid', name=op.f('pk_mkt_flash_buyers'))
    )
    op.create_table('mkt_flash_orders',
    sa.Column('order_no', sa.String(length=64), nullable=False),
    sa.Column('sale_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('openid', sa.String(length=64), nullable=False),
    sa.Column('qty', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['sale_id'], ['mkt_flash_sales.id'], name=op.f('fk_mkt_flash_orders_sale_id_mkt_flash_sales')),
    sa.PrimaryKeyConstraint('order_no', name=op.f('pk_mkt_flash_orders'))
    )
    op.create_index(op.f('ix_mkt_flash_orders_sale_id'), 'mkt_flash_orders', ['sale_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_mkt_flash_orders_sale_id'), table_name='mkt_flash_orders')
    op.drop_table('mkt_flash_orders')
    op.drop_table('mkt_flash_buyers')
    op.drop_index(op.f('ix_mkt_flash_sales_store'), table_name='mkt_flash_sales')
    op.drop_table('mkt_flash_sales')
