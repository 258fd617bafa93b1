"""service: shipments and their tracking events

Revision ID: 0606_service_delivery
Revises: 0605_service_aftersales
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0606_service_delivery"
down_revision: str | None = "0605_service_aftersales"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "svc_shipments",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("order_no", sa.String(length=64), nullable=False),
        sa.Column("store", sa.String(length=64), nullable=False),
        sa.Column("carrier", sa.String(length=64), nullable=False),
        sa.Column("com", sa.String(length=32), nullable=False),
        sa.Column("tracking_no", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("subscribed", sa.Boolean(), nullable=False),
        sa.Column("last_event_at", TS, nullable=True),
        sa.Column("last_checked_at", TS, nullable=True),
        sa.Column("delay_alerted", sa.Boolean(), nullable=False),
        sa.Column("alerted_state", sa.String(length=24), nullable=True),
        sa.Column("delivered_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_svc_shipments")),
        sa.UniqueConstraint("order_no", name=op.f("uq_svc_shipments_order_no")),
        sa.UniqueConstraint("com", "tracking_no", name="uq_svc_shipments_number"),
    )
    with op.batch_alter_table("svc_shipments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_svc_shipments_store"), ["store"], unique=False)
        batch_op.create_index(batch_op.f("ix_svc_shipments_state"), ["state"], unique=False)

    op.create_table(
        "svc_shipment_events",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("shipment_id", BIG_ID, nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("context", sa.String(length=300), nullable=False),
        sa.Column("area", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["shipment_id"], ["svc_shipments.id"],
                                name=op.f("fk_svc_shipment_events_shipment_id_svc_shipments"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_svc_shipment_events")),
        sa.UniqueConstraint("shipment_id", "at", "context", name="uq_svc_shipment_events_once"),
    )
    with op.batch_alter_table("svc_shipment_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_svc_shipment_events_shipment_id"), ["shipment_id"],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("svc_shipment_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_svc_shipment_events_shipment_id"))
    op.drop_table("svc_shipment_events")
    with op.batch_alter_table("svc_shipments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_svc_shipments_state"))
        batch_op.drop_index(batch_op.f("ix_svc_shipments_store"))
    op.drop_table("svc_shipments")
