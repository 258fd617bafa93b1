"""marketing: coupon templates and claimed coupons

Revision ID: 0951_marketing
Revises: 0201_price_books
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0951_marketing"
down_revision: str | None = "0201_price_books"
branch_labels: str | Sequence[str] | None = ("marketing",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('mkt_coupon_templates',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('store', sa.String(length=64), nullable=True),
    sa.Column('name_zh', sa.String(length=64), nullable=False),
    sa.Column('name_en', sa.String(length=64), nullable=True),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.Column('cap', sa.BigInteger(), nullable=True),
    sa.Column('threshold', sa.BigInteger(), nullable=False),
    sa.Column('categories', sa.JSON(), nullable=False),
    sa.Column('exclude_categories', sa.JSON(), nullable=False),
    sa.Column('valid_from', sa.DateTime(timezone=True), nullable=True),
    sa.Column('valid_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('valid_days', sa.Integer(), nullable=True),
    sa.Column('total_limit', sa.Integer(), nullable=False),
    sa.Column('per_user_limit', sa.Integer(), nullable=False),
    sa.Column('min_level', sa.String(length=16), nullable=True),
    sa.Column('stackable', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('issued', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mkt_coupon_templates'))
    )
    with op.batch_alter_table('mkt_coupon_templates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mkt_coupon_templates_store'), ['store'], unique=False)

    op.create_table('mkt_coupons',
    sa.Column('id', sa.String(length=24), nullable=False),
    sa.Column('template_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('owner', sa.String(length=64), nullable=False),
    sa.Column('claim_seq', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('order_no', sa.String(length=64), nullable=True),
    sa.Column('valid_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('valid_until', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('locked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['template_id'], ['mkt_coupon_templates.id'], name=op.f('fk_mkt_coupons_template_id_mkt_coupon_templates')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mkt_coupons')),
    sa.UniqueConstraint('template_id', 'owner', 'claim_seq', name=op.f('uq_mkt_coupons_template_id'))
    )
    with op.batch_alter_table('mkt_coupons', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mkt_coupons_order_no'), ['order_no'], unique=False)
        batch_op.create_index(batch_op.f('ix_mkt_coupons_owner'), ['owner'], unique=False)
        batch_op.create_index(batch_op.f('ix_mkt_coupons_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_mkt_coupons_template_id'), ['template_id'], unique=False)


def downgrade() -> None:
    op.drop_table('mkt_coupons')
    op.drop_table('mkt_coupon_templates')
