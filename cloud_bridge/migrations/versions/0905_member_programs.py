"""member programs: paid membership, referrals, surveys, points exchange

Revision ID: 0905_member_programs
Revises: 0901_members
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0905_member_programs"
down_revision: str | None = "0901_members"
branch_labels: str | Sequence[str] | None = ("member_programs",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('mem_exchange_items',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('store', sa.String(length=64), nullable=True),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('coupon_template_id', sa.BigInteger(), nullable=True),
    sa.Column('product_id', sa.String(length=64), nullable=True),
    sa.Column('name_zh', sa.String(length=64), nullable=False),
    sa.Column('name_en', sa.String(length=64), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('stock', sa.Integer(), nullable=False),
    sa.Column('issued', sa.Integer(), nullable=False),
    sa.Column('per_member_limit', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mem_exchange_items'))
    )
    op.create_index(op.f('ix_mem_exchange_items_store'), 'mem_exchange_items', ['store'], unique=False)
    op.create_table('mem_paid_plans',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name_zh', sa.String(length=64), nullable=False),
    sa.Column('name_en', sa.String(length=64), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('price', sa.BigInteger(), nullable=False),
    sa.Column('renewal_price', sa.BigInteger(), nullable=False),
    sa.Column('duration_days', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mem_paid_plans')),
    sa.UniqueConstraint('code', name=op.f('uq_mem_paid_plans_code'))
    )
    op.create_table('mem_referral_rules',
    sa.Column('event', sa.String(length=16), nullable=False),
    sa.Column('beneficiary', sa.String(length=8), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('coupon_template_id', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('event', 'beneficiary', name=op.f('pk_mem_referral_rules'))
    )
    op.create_table('mem_surveys',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('store', sa.String(length=64), nullable=True),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('title_zh', sa.String(length=64), nullable=False),
    sa.Column('title_en', sa.String(length=64), nullable=False),
    sa.Column('question_zh', sa.String(length=200), nullable=False),
    sa.Column('question_en', sa.String(length=200), nullable=False),
    sa.Column('answer_days', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mem_surveys'))
    )
    op.create_index(op.f('ix_mem_surveys_store'), 'mem_surveys', ['store'], unique=False)
    op.create_table('mem_exchanges',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('item_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('member_id', sa.String(length=32), nullable=False),
    sa.Column('request_id', sa.String(length=64), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('store', sa.String(length=64), nullable=True),
    sa.Column('coupon_id', sa.String(length=24), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('handed_over_by', sa.String(length=128), nullable=True),
    sa.Column('handed_over_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['mem_exchange_items.id'], name=op.f('fk_mem_exchanges_item_id_mem_exchange_items')),
    sa.ForeignKeyConstraint(['member_id'], ['mem_members.id'], name=op.f('fk_mem_exchanges_member_id_mem_members')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mem_exchanges')),
    sa.UniqueConstraint('item_id', 'member_id', 'seq', name=op.f('uq_mem_exchanges_item_id')),
    sa.UniqueConstraint('member_id', 'request_id', name=op.f('uq_mem_exchanges_member_id'))
    )
    op.create_index(op.f('ix_mem_exchanges_item_id'), 'mem_exchanges', ['item_id'], unique=False)
    op.create_index(op.f('ix_mem_exchanges_member_id'), 'mem_exchanges', ['member_id'], unique=False)
    op.create_index(op.f('ix_mem_exchanges_store'), 'mem_exchanges', ['store'], unique=False)
    op.create_table('mem_paid_memberships',
    sa.Column('member_id', sa.String(length=32), nullable=False),
    sa.Column('plan_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['mem_members.id'], name=op.f('fk_mem_paid_memberships_member_id_mem_members')),
    sa.ForeignKeyConstraint(['plan_id'], ['mem_paid_plans.id'], name=op.f('fk_mem_paid_memberships_plan_id_mem_paid_plans')),
    sa.PrimaryKeyConstraint('member_id', name=op.f('pk_mem_paid_memberships'))
    )
    op.create_index(op.f('ix_mem_paid_memberships_ends_at'), 'mem_paid_memberships', ['ends_at'], unique=False)
    op.create_index(op.f('ix_mem_paid_memberships_status'), 'mem_paid_memberships', ['status'], unique=False)
    op.create_table('mem_paid_purchases',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('member_id', sa.String(length=32), nullable=False),
    sa.Column('plan_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('order_no', sa.String(length=64), nullable=False),
    sa.Column('store', sa.String(length=64), nullable=False),
    sa.Column('price', sa.BigInteger(), nullable=False),
    sa.Column('renewal', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['mem_members.id'], name=op.f('fk_mem_paid_purchases_member_id_mem_members')),
    sa.ForeignKeyConstraint(['plan_id'], ['mem_paid_plans.id'], name=op.f('fk_mem_paid_purchases_plan_id_mem_paid_plans')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mem_paid_purchases')),
    sa.UniqueConstraint('order_no', name=op.f('uq_mem_paid_purchases_order_no'))
    )
    op.create_index(op.f('ix_mem_paid_purchases_member_id'), 'mem_paid_purchases', ['member_id'], unique=False)
    op.create_index(op.f('ix_mem_paid_purchases_status'), 'mem_paid_purchases', ['status'], unique=False)
    op.create_table('mem_referral_codes',
    sa.Column('member_id', sa.String(length=32), nullable=False),
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['mem_members.id'], name=op.f('fk_mem_referral_codes_member_id_mem_members')),
    sa.PrimaryKeyConstraint('member_id', name=op.f('pk_mem_referral_codes')),
    sa.UniqueConstraint('code', name=op.f('uq_mem_referral_codes_code'))
    )
    op.create_table('mem_referrals',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('invitee_id', sa.String(length=32), nullable=False),
    sa.Column('inviter_id', sa.String(length=32), nullable=False),
    sa.Column('first_order_no', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['invitee_id'], ['mem_members.id'], name=op.f('fk_mem_referrals_invitee_id_mem_members')),
    sa.ForeignKeyConstraint(['inviter_id'], ['mem_members.id'], name=op.f('fk_mem_referrals_inviter_id_mem_members')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mem_referrals')),
    sa.UniqueConstraint('invitee_id', name=op.f('uq_mem_referrals_invitee_id'))
    )
    op.create_index(op.f('ix_mem_referrals_inviter_id'), 'mem_referrals', ['inviter_id'], unique=False)
    op.create_table('mem_survey_answers',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('survey_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('member_id', sa.String(length=32), nullable=False),
    sa.Column('order_no', sa.String(length=64), nullable=False),
    sa.Column('store', sa.String(length=64), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('comment', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['mem_members.id'], name=op.f('fk_mem_survey_answers_member_id_mem_members')),
    sa.ForeignKeyConstraint(['survey_id'], ['mem_surveys.id'], name=op.f('fk_mem_survey_answers_survey_id_mem_surveys')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mem_survey_answers')),
    sa.UniqueConstraint('member_id', 'survey_id', 'order_no', name=op.f('uq_mem_survey_answers_member_id'))
    )
    op.create_index(op.f('ix_mem_survey_answers_member_id'), 'mem_survey_answers', ['member_id'], unique=False)
    op.create_index(op.f('ix_mem_survey_answers_month'), 'mem_survey_answers', ['month'], unique=False)
    op.create_index(op.f('ix_mem_survey_answers_store'), 'mem_survey_answers', ['store'], unique=False)
    op.create_index(op.f('ix_mem_survey_answers_survey_id'), 'mem_survey_answers', ['survey_id'], unique=False)
    op.create_table('mem_referral_rewards',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('referral_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('event', sa.String(length=16), nullable=False),
    sa.Column('beneficiary', sa.String(length=8), nullable=False),
    sa.Column('member_id', sa.String(length=32), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('coupon_id', sa.String(length=24), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['referral_id'], ['mem_referrals.id'], name=op.f('fk_mem_referral_rewards_referral_id_mem_referrals')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mem_referral_rewards')),
    sa.UniqueConstraint('referral_id', 'event', 'beneficiary', name=op.f('uq_mem_referral_rewards_referral_id'))
    )
    op.create_index(op.f('ix_mem_referral_rewards_member_id'), 'mem_referral_rewards', ['member_id'], unique=False)
    op.create_index(op.f('ix_mem_referral_rewards_referral_id'), 'mem_referral_rewards', ['referral_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_mem_referral_rewards_referral_id'), table_name='mem_referral_rewards')
    op.drop_index(op.f('ix_mem_referral_rewards_member_id'), table_name='mem_referral_rewards')
    op.drop_table('mem_referral_rewards')
    op.drop_index(op.f('ix_mem_survey_answers_survey_id'), table_name='mem_survey_answers')
    op.drop_index(op.f('ix_mem_survey_answers_store'), table_name='mem_survey_answers')
    op.drop_index(op.f('ix_mem_survey_answers_month'), table_name='mem_survey_answers')
    op.drop_index(op.f('ix_mem_survey_answers_member_id'), table_name='mem_survey_answers')
    op.drop_table('mem_survey_answers')
    op.drop_index(op.f('ix_mem_referrals_inviter_id'), table_name='mem_referrals')
    op.drop_table('mem_referrals')
    op.drop_table('mem_referral_codes')
    op.drop_index(op.f('ix_mem_paid_purchases_status'), table_name='mem_paid_purchases')
    op.drop_index(op.f('ix_mem_paid_purchases_member_id'), table_name='mem_paid_purchases')
    op.drop_table('mem_paid_purchases')
    op.drop_index(op.f('ix_mem_paid_memberships_status'), table_name='mem_paid_memberships')
    op.drop_index(op.f('ix_mem_paid_memberships_ends_at'), table_name='mem_paid_memberships')
    op.drop_table('mem_paid_memberships')
    op.drop_index(op.f('ix_mem_exchanges_store'), table_name='mem_exchanges')
    op.drop_index(op.f('ix_mem_exchanges_member_id'), table_name='mem_exchanges')
    op.drop_index(op.f('ix_mem_exchanges_item_id'), table_name='mem_exchanges')
    op.drop_table('mem_exchanges')
    op.drop_index(op.f('ix_mem_surveys_store'), table_name='mem_surveys')
    op.drop_table('mem_surveys')
    op.drop_table('mem_referral_rules')
    op.drop_table('mem_paid_plans')
    op.drop_index(op.f('ix_mem_exchange_items_store'), table_name='mem_exchange_items')
    op.drop_table('mem_exchange_items')
