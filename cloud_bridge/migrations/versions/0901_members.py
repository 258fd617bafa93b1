"""members: members, level ladder, growth and points ledgers, points batches

Revision ID: 0901_members
Revises: 0201_price_books
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0901_members"
down_revision: str | None = "0201_price_books"
branch_labels: str | Sequence[str] | None = ("members",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('mem_levels',
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('name_zh', sa.String(length=32), nullable=False),
    sa.Column('name_en', sa.String(length=32), nullable=False),
    sa.Column('min_growth', sa.BigInteger(), nullable=False),
    sa.Column('discount_bp', sa.Integer(), nullable=False),
    sa.Column('points_multiplier_bp', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_mem_levels'))
    )
    op.create_table('mem_members',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('unionid', sa.String(length=64), nullable=True),
    sa.Column('appid', sa.String(length=64), nullable=False),
    sa.Column('openid', sa.String(length=64), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.Column('birthday', sa.String(length=10), nullable=True),
    sa.Column('region', sa.String(length=64), nullable=True),
    sa.Column('gender', sa.String(length=8), nullable=True),
    sa.Column('home_store', sa.String(length=64), nullable=True),
    sa.Column('growth', sa.BigInteger(), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('registered_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mem_members')),
    sa.UniqueConstraint('appid', 'openid', name=op.f('uq_mem_members_appid')),
    sa.UniqueConstraint('unionid', name=op.f('uq_mem_members_unionid'))
    )
    with op.batch_alter_table('mem_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mem_members_home_store'), ['home_store'], unique=False)
        batch_op.create_index(batch_op.f('ix_mem_members_openid'), ['openid'], unique=False)

    op.create_table('mem_program',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('registration_growth', sa.Integer(), nullable=False),
    sa.Column('growth_per_yuan', sa.Integer(), nullable=False),
    sa.Column('points_per_yuan', sa.Integer(), nullable=False),
    sa.Column('points_expiry_days', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mem_program'))
    )
    op.create_table('mem_growth',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('member_id', sa.String(length=32), nullable=False),
    sa.Column('source_type', sa.String(length=16), nullable=False),
    sa.Column('source_id', sa.String(length=80), nullable=False),
    sa.Column('delta', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['mem_members.id'], name=op.f('fk_mem_growth_member_id_mem_members')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mem_growth')),
    sa.UniqueConstraint('source_type', 'source_id', name=op.f('uq_mem_growth_source_type'))
    )
    with op.batch_alter_table('mem_growth', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mem_growth_member_id'), ['member_id'], unique=False)

    op.create_table('mem_points_ledger',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('member_id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('source_type', sa.String(length=16), nullable=False),
    sa.Column('source_id', sa.String(length=80), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['mem_members.id'], name=op.f('fk_mem_points_ledger_member_id_mem_members')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mem_points_ledger')),
    sa.UniqueConstraint('source_type', 'source_id', name=op.f('uq_mem_points_ledger_source_type'))
    )
    with op.batch_alter_table('mem_points_ledger', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mem_points_ledger_member_id'), ['member_id'], unique=False)

    op.create_table('mem_points_batches',
    sa.Column('entry_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('member_id', sa.String(length=32), nullable=False),
    sa.Column('remaining', sa.BigInteger(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['mem_points_ledger.id'], name=op.f('fk_mem_points_batches_entry_id_mem_points_ledger')),
    sa.ForeignKeyConstraint(['member_id'], ['mem_members.id'], name=op.f('fk_mem_points_batches_member_id_mem_members')),
    sa.PrimaryKeyConstraint('entry_id', name=op.f('pk_mem_points_batches'))
    )
    with op.batch_alter_table('mem_points_batches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mem_points_batches_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_mem_points_batches_member_id'), ['member_id'], unique=False)


def downgrade() -> None:
    op.drop_table('mem_points_batches')
    op.drop_table('mem_points_ledger')
    op.drop_table('mem_growth')
    op.drop_table('mem_program')
    op.drop_table('mem_members')
    op.drop_table('mem_levels')
