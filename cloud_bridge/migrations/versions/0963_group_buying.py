"""campaigns: group buying (拼团): deals, groups and their members

Revision ID: 0963_group_buying
Revises: 0962_flash_sales
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0963_group_buying"
down_revision: str | None = "0962_flash_sales"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('mkt_group_deals',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('group_size', sa.Integer(), nullable=False),
    sa.Column('group_ttl_s', sa.Integer(), nullable=False),
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
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mkt_group_deals'))
    )
    op.create_index(op.f('ix_mkt_group_deals_store'), 'mkt_group_deals', ['store'], unique=False)
    op.create_table('mkt_groups',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('deal_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('store', sa.String(length=64), nullable=False),
    sa.Column('leader', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('seats', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['deal_id'], ['mkt_group_deals.id'], name=op.f('fk_mkt_groups_deal_id_mkt_group_deals')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mkt_groups'))
    )
    op.create_index(op.f('ix_mkt_groups_deal_id'), 'mkt_groups', ['deal_id'], unique=False)
    op.create_index('ix_mkt_groups_open', 'mkt_groups', ['status', 'expires_at'], unique=False)
    op.create_table('mkt_group_members',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('group_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('openid', sa.String(length=64), nullable=False),
    sa.Column('order_no', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('refund_request_id', sa.BigInteger(), nullable=True),
    sa.Column('joined_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['mkt_groups.id'], name=op.f('fk_mkt_group_members_group_id_mkt_groups')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mkt_group_members')),
    sa.UniqueConstraint('group_id', 'openid', name=op.f('uq_mkt_group_members_group_id')),
    sa.UniqueConstraint('order_no')
    )
    op.create_index(op.f('ix_mkt_group_members_group_id'), 'mkt_group_members', ['group_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_mkt_group_members_group_id'), table_name='mkt_group_members')
    op.drop_table('mkt_group_members')
    op.drop_index('ix_mkt_groups_open', table_name='mkt_groups')
    op.drop_index(op.f('ix_mkt_groups_deal_id'), table_name='mkt_groups')
    op.drop_table('mkt_groups')
    op.drop_index(op.f('ix_mkt_group_deals_store'), table_name='mkt_group_deals')
    op.drop_table('mkt_group_deals')
