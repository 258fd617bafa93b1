"""service: SLA policies, business hours, calendar days, breaches, CSAT

Revision ID: 0602_service_sla
Revises: 0601_service
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0602_service_sla"
down_revision: str | None = "0601_service"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('svc_business_hours',
    sa.Column('store', sa.String(length=64), nullable=False),
    sa.Column('weekday', sa.Integer(), nullable=False),
    sa.Column('opens', sa.String(length=5), nullable=False),
    sa.Column('closes', sa.String(length=5), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('store', 'weekday', name=op.f('pk_svc_business_hours'))
    )
    op.create_table('svc_calendar_days',
    sa.Column('store', sa.String(length=64), nullable=False),
    sa.Column('day', sa.String(length=10), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('as_weekday', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('store', 'day', name=op.f('pk_svc_calendar_days'))
    )
    op.create_table('svc_sla_policies',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('store', sa.String(length=64), nullable=False),
    sa.Column('priority', sa.String(length=8), nullable=False),
    sa.Column('first_response_min', sa.Integer(), nullable=False),
    sa.Column('next_response_min', sa.Integer(), nullable=False),
    sa.Column('resolution_min', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_svc_sla_policies')),
    sa.UniqueConstraint('store', 'priority', name='uq_svc_sla_policies_key')
    )
    op.create_table('svc_csat',
    sa.Column('conversation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('store', sa.String(length=64), nullable=False),
    sa.Column('agent', sa.String(length=64), nullable=True),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['svc_conversations.id'], name=op.f('fk_svc_csat_conversation_id_svc_conversations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('conversation_id', name=op.f('pk_svc_csat'))
    )
    with op.batch_alter_table('svc_csat', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_svc_csat_store'), ['store'], unique=False)

    op.create_table('svc_sla_breaches',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('conversation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('store', sa.String(length=64), nullable=False),
    sa.Column('clock', sa.String(length=16), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('breached_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['svc_conversations.id'], name=op.f('fk_svc_sla_breaches_conversation_id_svc_conversations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_svc_sla_breaches')),
    sa.UniqueConstraint('conversation_id', 'clock', 'due_at', name='uq_svc_sla_breaches_key')
    )
    with op.batch_alter_table('svc_sla_breaches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_svc_sla_breaches_conversation_id'), ['conversation_id'], unique=False)


def downgrade() -> None:
    op.drop_table('svc_sla_breaches')
    op.drop_table('svc_csat')
    op.drop_table('svc_sla_policies')
    op.drop_table('svc_calendar_days')
    op.drop_table('svc_business_hours')
