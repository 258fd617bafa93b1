"""supply: lots, movements, transfers, counts, alerts, products, suppliers, contracts,
purchase orders, receipts, bills, returns, supplier account, shipments, proposal runs

Revision ID: 0401_supply
Revises: 0201_price_books
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0401_supply"
down_revision: str | None = "0201_price_books"
branch_labels: str | Sequence[str] | None = ("supply",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('supply_alerts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('store', sa.String(length=64), nullable=True),
    sa.Column('subject', sa.String(length=160), nullable=False),
    sa.Column('product_id', sa.String(length=64), nullable=True),
    sa.Column('supplier_id', sa.String(length=64), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=128), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supply_alerts'))
    )
    op.create_index('ix_supply_alerts_open', 'supply_alerts', ['kind', 'store', 'subject', 'state'], unique=False)
    op.create_index(op.f('ix_supply_alerts_store'), 'supply_alerts', ['store'], unique=False)
    op.create_table('supply_contracts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('supplier_id', sa.String(length=64), nullable=False),
    sa.Column('number', sa.String(length=64), nullable=False),
    sa.Column('terms', sa.Text(), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('renewal_notice_days', sa.Integer(), nullable=False),
    sa.Column('prices', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supply_contracts')),
    sa.UniqueConstraint('number', name=op.f('uq_supply_contracts_number'))
    )
    op.create_index(op.f('ix_supply_contracts_supplier_id'), 'supply_contracts', ['supplier_id'], unique=False)
    op.create_table('supply_lots',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('store', sa.String(length=64), nullable=False),
    sa.Column('location', sa.String(length=64), nullable=False),
    sa.Column('product_id', sa.String(length=64), nullable=False),
    sa.Column('lot_no', sa.String(length=64), nullable=False),
    sa.Column('expiry_date', sa.Date(), nullable=True),
    sa.Column('qty', sa.BigInteger(), nullable=False),
    sa.Column('unit_cost_fen', sa.BigInteger(), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supply_lots')),
    sa.UniqueConstraint('store', 'location', 'product_id', 'lot_no', name=op.f('uq_supply_lots_store'))
    )
    op.create_index('ix_supply_lots_fefo', 'supply_lots', ['store', 'product_id', 'expiry_date'], unique=False)
    op.create_table('supply_movements',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('store', sa.String(length=64), nullable=False),
    sa.Column('location', sa.String(length=64), nullable=False),
    sa.Column('product_id', sa.String(length=64), nullable=False),
    sa.Column('lot_no', sa.String(length=64), nullable=True),
    sa.Column('qty', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('doc_type', sa.String(length=32), nullable=False),
    sa.Column('doc_id', sa.String(length=128), nullable=False),
    sa.Column('shortfall', sa.BigInteger(), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supply_movements'))
    )
    op.create_index(op.f('ix_supply_movements_kind'), 'supply_movements', ['kind'], unique=False)
    op.create_index('ix_supply_movements_sp', 'supply_movements', ['store', 'product_id', 'at'], unique=False)
    op.create_table('supply_products',
    sa.Column('product_id', sa.String(length=64), nullable=False),
    sa.Column('name_zh', sa.String(length=200), nullable=False),
    sa.Column('name_en', sa.String(length=200), nullable=True),
    sa.Column('category', sa.String(length=64), nullable=True),
    sa.Column('shelf_life_days', sa.Integer(), nullable=True),
    sa.Column('near_expiry_days', sa.Integer(), nullable=True),
    sa.Column('vat_rate_bp', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('product_id', name=op.f('pk_supply_products'))
    )
    op.create_table('supply_proposal_runs',
    sa.Column('store', sa.String(length=64), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('po_ids', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('store', 'day', name=op.f('pk_supply_proposal_runs'))
    )
    op.create_table('supply_purchase_orders',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('store', sa.String(length=64), nullable=False),
    sa.Column('supplier_id', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('source', sa.String(length=24), nullable=False),
    sa.Column('proposal_date', sa.Date(), nullable=True),
    sa.Column('contract_id', sa.BigInteger(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('expected_on', sa.Date(), nullable=True),
    sa.Column('history', sa.JSON(), nullable=False),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supply_purchase_orders'))
    )
    op.create_index(op.f('ix_supply_purchase_orders_status'), 'supply_purchase_orders', ['status'], unique=False)
    op.create_index(op.f('ix_supply_purchase_orders_store'), 'supply_purchase_orders', ['store'], unique=False)
    op.create_index(op.f('ix_supply_purchase_orders_supplier_id'), 'supply_purchase_orders', ['supplier_id'], unique=False)
    op.create_table('supply_qualifications',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('supplier_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('number', sa.String(length=64), nullable=False),
    sa.Column('expires_on', sa.Date(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supply_qualifications')),
    sa.UniqueConstraint('supplier_id', 'kind', name=op.f('uq_supply_qualifications_supplier_id'))
    )
    op.create_index(op.f('ix_supply_qualifications_supplier_id'), 'supply_qualifications', ['supplier_id'], unique=False)
    op.create_table('supply_reorder_rules',
    sa.Column('store', sa.String(length=64), nullable=False),
    sa.Column('product_id', sa.String(length=64), nullable=False),
    sa.Column('supplier_id', sa.String(length=64), nullable=True),
    sa.Column('min_qty', sa.BigInteger(), nullable=False),
    sa.Column('max_qty', sa.BigInteger(), nullable=False),
    sa.Column('multiple', sa.Integer(), nullable=False),
    sa.Column('lead_time_days', sa.Integer(), nullable=True),
    sa.Column('service_z', sa.Float(), nullable=False),
    sa.Column('ordering_cost_fen', sa.BigInteger(), nullable=True),
    sa.Column('holding_rate_per_year', sa.Float(), nullable=False),
    sa.Column('overstock_days', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('store', 'product_id', name=op.f('pk_supply_reorder_rules'))
    )
    op.create_table('supply_stock_counts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('store', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('lines', sa.JSON(), nullable=False),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supply_stock_counts'))
    )
    op.create_index(op.f('ix_supply_stock_counts_store'), 'supply_stock_counts', ['store'], unique=False)
    op.create_table('supply_supplier_account',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('supplier_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('doc', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supply_supplier_account'))
    )
    op.create_index(op.f('ix_supply_supplier_account_supplier_id'), 'supply_supplier_account', ['supplier_id'], unique=False)
    op.create_table('supply_supplier_products',
    sa.Column('supplier_id', sa.String(length=64), nullable=False),
    sa.Column('product_id', sa.String(length=64), nullable=False),
    sa.Column('cost_fen', sa.BigInteger(), nullable=False),
    sa.Column('pack_size', sa.Integer(), nullable=False),
    sa.Column('previous_cost_fen', sa.BigInteger(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('supplier_id', 'product_id', name=op.f('pk_supply_supplier_products'))
    )
    op.create_table('supply_suppliers',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('lead_time_days', sa.Integer(), nullable=False),
    sa.Column('payment_terms_days', sa.Integer(), nullable=False),
    sa.Column('contact', sa.String(length=200), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supply_suppliers'))
    )
    op.create_table('supply_transfers',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('from_store', sa.String(length=64), nullable=False),
    sa.Column('to_store', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('lines', sa.JSON(), nullable=False),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supply_transfers'))
    )
    op.create_index(op.f('ix_supply_transfers_from_store'), 'supply_transfers', ['from_store'], unique=False)
    op.create_index(op.f('ix_supply_transfers_to_store'), 'supply_transfers', ['to_store'], unique=False)
    op.create_table('supply_bills',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('po_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('supplier_id', sa.String(length=64), nullable=False),
    sa.Column('bill_no', sa.String(length=64), nullable=False),
    sa.Column('lines', sa.JSON(), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('vat_fen', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('match', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['po_id'], ['supply_purchase_orders.id'], name=op.f('fk_supply_bills_po_id_supply_purchase_orders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supply_bills')),
    sa.UniqueConstraint('supplier_id', 'bill_no', name=op.f('uq_supply_bills_supplier_id'))
    )
    op.create_index(op.f('ix_supply_bills_po_id'), 'supply_bills', ['po_id'], unique=False)
    op.create_table('supply_po_lines',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('po_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('product_id', sa.String(length=64), nullable=False),
    sa.Column('qty', sa.BigInteger(), nullable=False),
    sa.Column('unit_cost_fen', sa.BigInteger(), nullable=False),
    sa.Column('vat_rate_bp', sa.Integer(), nullable=False),
    sa.Column('qty_received', sa.BigInteger(), nullable=False),
    sa.Column('qty_accepted', sa.BigInteger(), nullable=False),
    sa.Column('qty_returned', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['po_id'], ['supply_purchase_orders.id'], name=op.f('fk_supply_po_lines_po_id_supply_purchase_orders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supply_po_lines')),
    sa.UniqueConstraint('po_id', 'product_id', name=op.f('uq_supply_po_lines_po_id'))
    )
    op.create_index(op.f('ix_supply_po_lines_po_id'), 'supply_po_lines', ['po_id'], unique=False)
    op.create_table('supply_receipts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('po_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('store', sa.String(length=64), nullable=False),
    sa.Column('supplier_id', sa.String(length=64), nullable=False),
    sa.Column('lines', sa.JSON(), nullable=False),
    sa.Column('on_time', sa.Boolean(), nullable=True),
    sa.Column('in_full', sa.Boolean(), nullable=True),
    sa.Column('lead_time_days', sa.Float(), nullable=True),
    sa.Column('received_by', sa.String(length=128), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['po_id'], ['supply_purchase_orders.id'], name=op.f('fk_supply_receipts_po_id_supply_purchase_orders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supply_receipts'))
    )
    op.create_index(op.f('ix_supply_receipts_po_id'), 'supply_receipts', ['po_id'], unique=False)
    op.create_index(op.f('ix_supply_receipts_supplier_id'), 'supply_receipts', ['supplier_id'], unique=False)
    op.create_table('supply_shipments',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('po_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('store', sa.String(length=64), nullable=False),
    sa.Column('carrier', sa.String(length=64), nullable=False),
    sa.Column('tracking_no', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('expected_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['po_id'], ['supply_purchase_orders.id'], name=op.f('fk_supply_shipments_po_id_supply_purchase_orders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supply_shipments'))
    )
    op.create_index(op.f('ix_supply_shipments_po_id'), 'supply_shipments', ['po_id'], unique=False)
    op.create_index(op.f('ix_supply_shipments_store'), 'supply_shipments', ['store'], unique=False)
    op.create_table('supply_supplier_returns',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('receipt_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('supplier_id', sa.String(length=64), nullable=False),
    sa.Column('store', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('lines', sa.JSON(), nullable=False),
    sa.Column('credit_fen', sa.BigInteger(), nullable=False),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['receipt_id'], ['supply_receipts.id'], name=op.f('fk_supply_supplier_returns_receipt_id_supply_receipts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supply_supplier_returns'))
    )
    op.create_index(op.f('ix_supply_supplier_returns_receipt_id'), 'supply_supplier_returns', ['receipt_id'], unique=False)
    op.create_index(op.f('ix_supply_supplier_returns_supplier_id'), 'supply_supplier_returns', ['supplier_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_supply_supplier_returns_supplier_id'), table_name='supply_supplier_returns')
    op.drop_index(op.f('ix_supply_supplier_returns_receipt_id'), table_name='supply_supplier_returns')
    op.drop_table('supply_supplier_returns')
    op.drop_index(op.f('ix_supply_shipments_store'), table_name='supply_shipments')
    op.drop_index(op.f('ix_supply_shipments_po_id'), table_name='supply_shipments')
    op.drop_table('supply_shipments')
    op.drop_index(op.f('ix_supply_receipts_supplier_id'), table_name='supply_receipts')
    op.drop_index(op.f('ix_supply_receipts_po_id'), table_name='supply_receipts')
    op.drop_table('supply_receipts')
    op.drop_index(op.f('ix_supply_po_lines_po_id'), table_name='supply_po_lines')
    op.drop_table('supply_po_lines')
    op.drop_index(op.f('ix_supply_bills_po_id'), table_name='supply_bills')
    op.drop_table('supply_bills')
    op.drop_index(op.f('ix_supply_transfers_to_store'), table_name='supply_transfers')
    op.drop_index(op.f('ix_supply_transfers_from_store'), table_name='supply_transfers')
    op.drop_table('supply_transfers')
    op.drop_table('supply_suppliers')
    op.drop_table('supply_supplier_products')
    op.drop_index(op.f('ix_supply_supplier_account_supplier_id'), table_name='supply_supplier_account')
    op.drop_table('supply_supplier_account')
    op.drop_index(op.f('ix_supply_stock_counts_store'), table_name='supply_stock_counts')
    op.drop_table('supply_stock_counts')
    op.drop_table('supply_reorder_rules')
    op.drop_index(op.f('ix_supply_qualifications_supplier_id'), table_name='supply_qualifications')
    op.drop_table('supply_qualifications')
    op.drop_index(op.f('ix_supply_purchase_orders_supplier_id'), table_name='supply_purchase_orders')
    op.drop_index(op.f('ix_supply_purchase_orders_store'), table_name='supply_purchase_orders')
    op.drop_index(op.f('ix_supply_purchase_orders_status'), table_name='supply_purchase_orders')
    op.drop_table('supply_purchase_orders')
    op.drop_table('supply_proposal_runs')
    op.drop_table('supply_products')
    op.drop_index('ix_supply_movements_sp', table_name='supply_movements')
    op.drop_index(op.f('ix_supply_movements_kind'), table_name='supply_movements')
    op.drop_table('supply_movements')
    op.drop_index('ix_supply_lots_fefo', table_name='supply_lots')
    op.drop_table('supply_lots')
    op.drop_index(op.f('ix_supply_contracts_supplier_id'), table_name='supply_contracts')
    op.drop_table('supply_contracts')
    op.drop_index(op.f('ix_supply_alerts_store'), table_name='supply_alerts')
    op.drop_index('ix_supply_alerts_open', table_name='supply_alerts')
    op.drop_table('supply_alerts')
