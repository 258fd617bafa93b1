"""analytics tables: products dimension, sales/hourly/payment facts, cohorts, member
profiles, forecasts, basket rules, runs, behaviour events, competitor prices, win-back actions

Revision ID: 0501_analytics
Revises: 0201_price_books
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0501_analytics"
down_revision: str | None = "0201_price_books"
branch_labels: str | Sequence[str] | None = ("analytics",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('analytics_basket_rules',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('store', sa.String(length=64), nullable=False),
    sa.Column('antecedent', sa.String(length=64), nullable=False),
    sa.Column('consequent', sa.String(length=64), nullable=False),
    sa.Column('support', sa.Float(), nullable=False),
    sa.Column('confidence', sa.Float(), nullable=False),
    sa.Column('lift', sa.Float(), nullable=False),
    sa.Column('baskets', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_analytics_basket_rules'))
    )
    op.create_index(op.f('ix_analytics_basket_rules_store'), 'analytics_basket_rules', ['store'], unique=False)
    op.create_table('analytics_cohorts',
    sa.Column('store', sa.String(length=64), nullable=False),
    sa.Column('cohort_week', sa.String(length=10), nullable=False),
    sa.Column('week_offset', sa.Integer(), nullable=False),
    sa.Column('cohort_size', sa.Integer(), nullable=False),
    sa.Column('members', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('store', 'cohort_week', 'week_offset', name=op.f('pk_analytics_cohorts'))
    )
    op.create_table('analytics_competitor_prices',
    sa.Column('competitor', sa.String(length=64), nullable=False),
    sa.Column('barcode', sa.String(length=64), nullable=False),
    sa.Column('observed_on', sa.String(length=10), nullable=False),
    sa.Column('price', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('competitor', 'barcode', 'observed_on', name=op.f('pk_analytics_competitor_prices'))
    )
    op.create_table('analytics_events',
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('v', sa.Integer(), nullable=False),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('source', sa.String(length=8), nullable=False),
    sa.Column('store', sa.String(length=64), nullable=True),
    sa.Column('session_id', sa.String(length=64), nullable=True),
    sa.Column('member_id', sa.String(length=64), nullable=True),
    sa.Column('openid', sa.String(length=64), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=True),
    sa.Column('campaign', sa.String(length=64), nullable=True),
    sa.Column('page', sa.String(length=128), nullable=True),
    sa.Column('keyword', sa.String(length=64), nullable=True),
    sa.Column('result_count', sa.Integer(), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('event_id', name=op.f('pk_analytics_events'))
    )
    op.create_index(op.f('ix_analytics_events_at'), 'analytics_events', ['at'], unique=False)
    op.create_index(op.f('ix_analytics_events_session_id'), 'analytics_events', ['session_id'], unique=False)
    op.create_index(op.f('ix_analytics_events_store'), 'analytics_events', ['store'], unique=False)
    op.create_index(op.f('ix_analytics_events_type'), 'analytics_events', ['type'], unique=False)
    op.create_table('analytics_forecasts',
    sa.Column('store', sa.String(length=64), nullable=False),
    sa.Column('product_id', sa.String(length=64), nullable=False),
    sa.Column('business_date', sa.String(length=10), nullable=False),
    sa.Column('method', sa.String(length=16), nullable=False),
    sa.Column('point', sa.Float(), nullable=False),
    sa.Column('lo', sa.Float(), nullable=False),
    sa.Column('hi', sa.Float(), nullable=False),
    sa.Column('made_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('store', 'product_id', 'business_date', name=op.f('pk_analytics_forecasts'))
    )
    op.create_table('analytics_member_profiles',
    sa.Column('member_id', sa.String(length=64), nullable=False),
    sa.Column('first_date', sa.String(length=10), nullable=False),
    sa.Column('last_date', sa.String(length=10), nullable=False),
    sa.Column('orders', sa.Integer(), nullable=False),
    sa.Column('revenue', sa.BigInteger(), nullable=False),
    sa.Column('recency_days', sa.Integer(), nullable=False),
    sa.Column('r_score', sa.Integer(), nullable=False),
    sa.Column('f_score', sa.Integer(), nullable=False),
    sa.Column('m_score', sa.Integer(), nullable=False),
    sa.Column('segment', sa.String(length=32), nullable=False),
    sa.Column('ltv', sa.BigInteger(), nullable=False),
    sa.Column('preferred_category', sa.String(length=64), nullable=True),
    sa.Column('preferred_store', sa.String(length=64), nullable=True),
    sa.Column('promo_share', sa.Float(), nullable=False),
    sa.Column('expected_gap_days', sa.Float(), nullable=True),
    sa.Column('p_alive', sa.Float(), nullable=False),
    sa.Column('churned', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('member_id', name=op.f('pk_analytics_member_profiles'))
    )
    op.create_index(op.f('ix_analytics_member_profiles_churned'), 'analytics_member_profiles', ['churned'], unique=False)
    op.create_index(op.f('ix_analytics_member_profiles_preferred_store'), 'analytics_member_profiles', ['preferred_store'], unique=False)
    op.create_index(op.f('ix_analytics_member_profiles_segment'), 'analytics_member_profiles', ['segment'], unique=False)
    op.create_table('analytics_payments_daily',
    sa.Column('store', sa.String(length=64), nullable=False),
    sa.Column('business_date', sa.String(length=10), nullable=False),
    sa.Column('method', sa.String(length=16), nullable=False),
    sa.Column('payments', sa.Integer(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('store', 'business_date', 'method', name=op.f('pk_analytics_payments_daily'))
    )
    op.create_table('analytics_products',
    sa.Column('product_id', sa.String(length=64), nullable=False),
    sa.Column('barcode', sa.String(length=64), nullable=True),
    sa.Column('name_zh', sa.String(length=200), nullable=False),
    sa.Column('category', sa.String(length=64), nullable=False),
    sa.Column('list_price', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('product_id', name=op.f('pk_analytics_products'))
    )
    op.create_index(op.f('ix_analytics_products_barcode'), 'analytics_products', ['barcode'], unique=False)
    op.create_table('analytics_runs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('period', sa.String(length=10), nullable=False),
    sa.Column('trigger', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('step', sa.String(length=32), nullable=False),
    sa.Column('progress', sa.Float(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('requested_by', sa.String(length=128), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_analytics_runs'))
    )
    op.create_index(op.f('ix_analytics_runs_period'), 'analytics_runs', ['period'], unique=False)
    op.create_index(op.f('ix_analytics_runs_status'), 'analytics_runs', ['status'], unique=False)
    op.create_table('analytics_sales_daily',
    sa.Column('store', sa.String(length=64), nullable=False),
    sa.Column('business_date', sa.String(length=10), nullable=False),
    sa.Column('product_id', sa.String(length=64), nullable=False),
    sa.Column('category', sa.String(length=64), nullable=False),
    sa.Column('qty', sa.BigInteger(), nullable=False),
    sa.Column('revenue', sa.BigInteger(), nullable=False),
    sa.Column('discount', sa.BigInteger(), nullable=False),
    sa.Column('lines', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('store', 'business_date', 'product_id', name=op.f('pk_analytics_sales_daily'))
    )
    op.create_index('ix_analytics_sales_daily_date', 'analytics_sales_daily', ['business_date'], unique=False)
    op.create_table('analytics_sales_hourly',
    sa.Column('store', sa.String(length=64), nullable=False),
    sa.Column('business_date', sa.String(length=10), nullable=False),
    sa.Column('hour', sa.Integer(), nullable=False),
    sa.Column('orders', sa.Integer(), nullable=False),
    sa.Column('revenue', sa.BigInteger(), nullable=False),
    sa.Column('discount', sa.BigInteger(), nullable=False),
    sa.Column('member_orders', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('store', 'business_date', 'hour', name=op.f('pk_analytics_sales_hourly'))
    )
    op.create_table('analytics_winback_actions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('member_id', sa.String(length=64), nullable=False),
    sa.Column('period', sa.String(length=10), nullable=False),
    sa.Column('segment', sa.String(length=32), nullable=False),
    sa.Column('coupon_fen', sa.BigInteger(), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_analytics_winback_actions'))
    )
    op.create_index(op.f('ix_analytics_winback_actions_member_id'), 'analytics_winback_actions', ['member_id'], unique=False)
    op.create_index('ux_analytics_winback_member_period', 'analytics_winback_actions', ['member_id', 'period'], unique=True)


def downgrade() -> None:
    op.drop_index('ux_analytics_winback_member_period', table_name='analytics_winback_actions')
    op.drop_index(op.f('ix_analytics_winback_actions_member_id'), table_name='analytics_winback_actions')
    op.drop_table('analytics_winback_actions')
    op.drop_table('analytics_sales_hourly')
    op.drop_index('ix_analytics_sales_daily_date', table_name='analytics_sales_daily')
    op.drop_table('analytics_sales_daily')
    op.drop_index(op.f('ix_analytics_runs_status'), table_name='analytics_runs')
    op.drop_index(op.f('ix_analytics_runs_period'), table_name='analytics_runs')
    op.drop_table('analytics_runs')
    op.drop_index(op.f('ix_analytics_products_barcode'), table_name='analytics_products')
    op.drop_table('analytics_products')
    op.drop_table('analytics_payments_daily')
    op.drop_index(op.f('ix_analytics_member_profiles_segment'), table_name='analytics_member_profiles')
    op.drop_index(op.f('ix_analytics_member_profiles_preferred_store'), table_name='analytics_member_profiles')
    op.drop_index(op.f('ix_analytics_member_profiles_churned'), table_name='analytics_member_profiles')
    op.drop_table('analytics_member_profiles')
    op.drop_table('analytics_forecasts')
    op.drop_index(op.f('ix_analytics_events_type'), table_name='analytics_events')
    op.drop_index(op.f('ix_analytics_events_store'), table_name='analytics_events')
    op.drop_index(op.f('ix_analytics_events_session_id'), table_name='analytics_events')
    op.drop_index(op.f('ix_analytics_events_at'), table_name='analytics_events')
    op.drop_table('analytics_events')
    op.drop_table('analytics_competitor_prices')
    op.drop_table('analytics_cohorts')
    op.drop_index(op.f('ix_analytics_basket_rules_store'), table_name='analytics_basket_rules')
    op.drop_table('analytics_basket_rules')
