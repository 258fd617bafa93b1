"""service: conversations/tickets, messages, notes, ticket events, canned replies, attachments

Revision ID: 0601_service
Revises: 0201_price_books
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0601_service"
down_revision: str | None = "0201_price_books"
branch_labels: str | Sequence[str] | None = ("service",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('svc_attachments',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('store', sa.String(length=64), nullable=False),
    sa.Column('owner', sa.String(length=128), nullable=False),
    sa.Column('purpose', sa.String(length=16), nullable=False),
    sa.Column('content_type', sa.String(length=32), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('storage_key', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_svc_attachments'))
    )
    op.create_table('svc_canned_replies',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('store', sa.String(length=64), nullable=True),
    sa.Column('shortcut', sa.String(length=32), nullable=False),
    sa.Column('title', sa.String(length=100), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_svc_canned_replies')),
    sa.UniqueConstraint('store', 'shortcut', name=op.f('uq_svc_canned_replies_store'))
    )
    with op.batch_alter_table('svc_canned_replies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_svc_canned_replies_store'), ['store'], unique=False)

    op.create_table('svc_conversations',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('store', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('channel', sa.String(length=24), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('priority', sa.String(length=8), nullable=False),
    sa.Column('tier', sa.String(length=16), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=True),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('openid', sa.String(length=64), nullable=True),
    sa.Column('member_id', sa.String(length=64), nullable=True),
    sa.Column('order_no', sa.String(length=64), nullable=True),
    sa.Column('assignee', sa.String(length=64), nullable=True),
    sa.Column('labels', sa.JSON(), nullable=False),
    sa.Column('external_ref', sa.String(length=64), nullable=True),
    sa.Column('last_seq', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('snoozed_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('first_response_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('waiting_since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_svc_conversations')),
    sa.UniqueConstraint('channel', 'external_ref', name=op.f('uq_svc_conversations_channel'))
    )
    with op.batch_alter_table('svc_conversations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_svc_conversations_openid'), ['openid'], unique=False)
        batch_op.create_index('ix_svc_conversations_queue', ['store', 'status', 'rank'], unique=False)
        batch_op.create_index(batch_op.f('ix_svc_conversations_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_svc_conversations_store'), ['store'], unique=False)

    op.create_table('svc_messages',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('conversation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('sender_kind', sa.String(length=16), nullable=False),
    sa.Column('sender', sa.String(length=128), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('attachment_id', sa.String(length=40), nullable=True),
    sa.Column('client_msg_id', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['svc_conversations.id'], name=op.f('fk_svc_messages_conversation_id_svc_conversations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_svc_messages')),
    sa.UniqueConstraint('conversation_id', 'client_msg_id', name='uq_svc_messages_client_msg'),
    sa.UniqueConstraint('conversation_id', 'seq', name='uq_svc_messages_seq')
    )
    op.create_table('svc_notes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('conversation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('author', sa.String(length=128), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['svc_conversations.id'], name=op.f('fk_svc_notes_conversation_id_svc_conversations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_svc_notes'))
    )
    with op.batch_alter_table('svc_notes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_svc_notes_conversation_id'), ['conversation_id'], unique=False)

    op.create_table('svc_ticket_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('conversation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['svc_conversations.id'], name=op.f('fk_svc_ticket_events_conversation_id_svc_conversations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_svc_ticket_events'))
    )
    with op.batch_alter_table('svc_ticket_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_svc_ticket_events_conversation_id'), ['conversation_id'], unique=False)


def downgrade() -> None:
    op.drop_table('svc_ticket_events')
    op.drop_table('svc_notes')
    op.drop_table('svc_messages')
    op.drop_table('svc_conversations')
    op.drop_table('svc_canned_replies')
    op.drop_table('svc_attachments')
