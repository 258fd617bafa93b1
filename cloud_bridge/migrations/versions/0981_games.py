"""games: lucky draws, prizes and the audited draws

Revision ID: 0981_games
Revises: 0951_marketing
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0981_games"
down_revision: str | None = "0951_marketing"
branch_labels: str | Sequence[str] | None = ("games",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('game_lucky_draws',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('store', sa.String(length=64), nullable=True),
    sa.Column('name_zh', sa.String(length=64), nullable=False),
    sa.Column('name_en', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('daily_cap', sa.Integer(), nullable=False),
    sa.Column('member_cap', sa.Integer(), nullable=False),
    sa.Column('points_cost', sa.Integer(), nullable=False),
    sa.Column('config_hash', sa.String(length=64), nullable=True),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('went_live_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_game_lucky_draws'))
    )
    op.create_index(op.f('ix_game_lucky_draws_status'), 'game_lucky_draws', ['status'], unique=False)
    op.create_index(op.f('ix_game_lucky_draws_store'), 'game_lucky_draws', ['store'], unique=False)
    op.create_table('game_draws',
    sa.Column('id', sa.String(length=24), nullable=False),
    sa.Column('game_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('member_id', sa.String(length=32), nullable=False),
    sa.Column('request_id', sa.String(length=64), nullable=False),
    sa.Column('day', sa.String(length=10), nullable=False),
    sa.Column('day_seq', sa.Integer(), nullable=False),
    sa.Column('roll', sa.BigInteger(), nullable=False),
    sa.Column('total_weight', sa.BigInteger(), nullable=False),
    sa.Column('config_hash', sa.String(length=64), nullable=False),
    sa.Column('drawn_prize_id', sa.BigInteger(), nullable=False),
    sa.Column('prize_id', sa.BigInteger(), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('points_spent', sa.Integer(), nullable=False),
    sa.Column('points_won', sa.Integer(), nullable=False),
    sa.Column('coupon_id', sa.String(length=24), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['game_id'], ['game_lucky_draws.id'], name=op.f('fk_game_draws_game_id_game_lucky_draws')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_game_draws')),
    sa.UniqueConstraint('game_id', 'member_id', 'day', 'day_seq', name='uq_game_draws_day_seq'),
    sa.UniqueConstraint('game_id', 'member_id', 'request_id', name='uq_game_draws_request')
    )
    op.create_index(op.f('ix_game_draws_game_id'), 'game_draws', ['game_id'], unique=False)
    op.create_index(op.f('ix_game_draws_member_id'), 'game_draws', ['member_id'], unique=False)
    op.create_table('game_prizes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('game_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name_zh', sa.String(length=64), nullable=False),
    sa.Column('name_en', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('coupon_template_id', sa.BigInteger(), nullable=True),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('weight', sa.Integer(), nullable=False),
    sa.Column('stock', sa.Integer(), nullable=True),
    sa.Column('issued', sa.Integer(), nullable=False),
    sa.Column('fallback', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['game_id'], ['game_lucky_draws.id'], name=op.f('fk_game_prizes_game_id_game_lucky_draws')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_game_prizes'))
    )
    op.create_index(op.f('ix_game_prizes_game_id'), 'game_prizes', ['game_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_game_prizes_game_id'), table_name='game_prizes')
    op.drop_table('game_prizes')
    op.drop_index(op.f('ix_game_draws_member_id'), table_name='game_draws')
    op.drop_index(op.f('ix_game_draws_game_id'), table_name='game_draws')
    op.drop_table('game_draws')
    op.drop_index(op.f('ix_game_lucky_draws_store'), table_name='game_lucky_draws')
    op.drop_index(op.f('ix_game_lucky_draws_status'), table_name='game_lucky_draws')
    op.drop_table('game_lucky_draws')
