"""service: bookable services, slots, bookings

Revision ID: 0603_service_appointments
Revises: 0602_service_sla
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0603_service_appointments"
down_revision: str | None = "0602_service_sla"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('svc_bookable_services',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('store', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('book_before_min', sa.Integer(), nullable=False),
    sa.Column('cancel_before_min', sa.Integer(), nullable=False),
    sa.Column('max_active_per_member', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_svc_bookable_services'))
    )
    with op.batch_alter_table('svc_bookable_services', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_svc_bookable_services_store'), ['store'], unique=False)

    op.create_table('svc_slots',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('service_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('booked', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['service_id'], ['svc_bookable_services.id'], name=op.f('fk_svc_slots_service_id_svc_bookable_services'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_svc_slots')),
    sa.UniqueConstraint('service_id', 'starts_at', name='uq_svc_slots_start')
    )
    with op.batch_alter_table('svc_slots', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_svc_slots_service_id'), ['service_id'], unique=False)

    op.create_table('svc_bookings',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('slot_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('openid', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['slot_id'], ['svc_slots.id'], name=op.f('fk_svc_bookings_slot_id_svc_slots'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_svc_bookings')),
    sa.UniqueConstraint('slot_id', 'openid', name='uq_svc_bookings_once')
    )
    with op.batch_alter_table('svc_bookings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_svc_bookings_openid'), ['openid'], unique=False)
        batch_op.create_index(batch_op.f('ix_svc_bookings_service_id'), ['service_id'], unique=False)


def downgrade() -> None:
    op.drop_table('svc_bookings')
    op.drop_table('svc_slots')
    op.drop_table('svc_bookable_services')
