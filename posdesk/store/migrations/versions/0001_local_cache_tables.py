"""Local cache tables: clients, catalog, appointments, tickets, invoices, outbox, cursor, settings."""

from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None


def upgrade() -> None:
    op.create_table('catalog_items',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('price_minor', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('tax_rate', sa.String(length=16), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalog_items'))
    )
    with op.batch_alter_table('catalog_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_catalog_items_kind_name'), ['kind', 'name'], unique=False)

    op.create_table('clients',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('first_name', sa.String(length=200), nullable=False),
    sa.Column('last_name', sa.String(length=200), nullable=False),
    sa.Column('phone', sa.String(length=40), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('sms_consent', sa.Boolean(), nullable=False),
    sa.Column('email_consent', sa.Boolean(), nullable=False),
    sa.Column('name_key', sa.String(length=420), nullable=False),
    sa.Column('last_name_key', sa.String(length=420), nullable=False),
    sa.Column('phone_key', sa.String(length=40), nullable=False),
    sa.Column('phone_key_reversed', sa.String(length=40), nullable=False),
    sa.Column('email_key', sa.String(length=320), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clients'))
    )
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clients_email_key'), ['email_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_clients_last_name_key'), ['last_name_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_clients_name_key'), ['name_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_clients_phone_key'), ['phone_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_clients_phone_key_reversed'), ['phone_key_reversed'], unique=False)

    op.create_table('event_cursor',
    sa.Column('store_key', sa.String(length=300), nullable=False),
    sa.Column('last_event_id', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('store_key', name=op.f('pk_event_cursor'))
    )
    op.create_table('outbox',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('dedupe_key', sa.String(length=200), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_try_at', sa.DateTime(), nullable=False),
    sa.Column('last_error', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('done_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_outbox_dedupe_key'))
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_done_at_next_try_at'), ['done_at', 'next_try_at'], unique=False)

    op.create_table('settings',
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('value', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_settings'))
    )
    op.create_table('appointments',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('client_id', sa.String(length=32), nullable=True),
    sa.Column('item_id', sa.String(length=64), nullable=False),
    sa.Column('staff', sa.String(length=200), nullable=False),
    sa.Column('start_at', sa.DateTime(), nullable=False),
    sa.Column('duration_minutes', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('ticket_id', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_appointments_client_id_clients')),
    sa.ForeignKeyConstraint(['item_id'], ['catalog_items.id'], name=op.f('fk_appointments_item_id_catalog_items')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_appointments'))
    )
    with op.batch_alter_table('appointments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_appointments_client_id'), ['client_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_appointments_start_at'), ['start_at'], unique=False)

    op.create_table('client_holdings',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('client_id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('holding_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('service_ids', sa.JSON(), nullable=False),
    sa.Column('sessions_left', sa.Integer(), nullable=True),
    sa.Column('active_until', sa.Date(), nullable=True),
    sa.Column('balance_minor', sa.Integer(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_client_holdings_client_id_clients'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_client_holdings')),
    sa.UniqueConstraint('client_id', 'kind', 'holding_id', name=op.f('uq_client_holdings_client_id_kind_holding_id'))
    )
    with op.batch_alter_table('client_holdings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_client_holdings_client_id'), ['client_id'], unique=False)

    op.create_table('tickets',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('client_id', sa.String(length=32), nullable=True),
    sa.Column('client_name', sa.String(length=420), nullable=False),
    sa.Column('client_key', sa.String(length=420), nullable=False),
    sa.Column('state', sa.String(length=24), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('promo_codes', sa.JSON(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_tickets_client_id_clients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tickets')),
    sa.UniqueConstraint('number', name=op.f('uq_tickets_number'))
    )
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tickets_client_id_number'), ['client_id', 'number'], unique=False)
        batch_op.create_index('ix_tickets_client_key_number', ['client_key', sa.text('number DESC')], unique=False)
        batch_op.create_index(batch_op.f('ix_tickets_state_number'), ['state', 'number'], unique=False)

    op.create_table('invoices',
    sa.Column('ticket_id', sa.String(length=32), nullable=False),
    sa.Column('invoice_id', sa.String(length=32), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('link_token', sa.String(length=100), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('amount_requested_minor', sa.Integer(), nullable=True),
    sa.Column('link_status', sa.String(length=16), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.Column('out_of_date', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_invoices_ticket_id_tickets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('ticket_id', name=op.f('pk_invoices')),
    sa.UniqueConstraint('invoice_id', name=op.f('uq_invoices_invoice_id'))
    )
    op.create_table('payments',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('ticket_id', sa.String(length=32), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('amount_minor', sa.Integer(), nullable=False),
    sa.Column('tip_minor', sa.Integer(), nullable=False),
    sa.Column('method', sa.String(length=16), nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.Column('reference', sa.String(length=200), nullable=False),
    sa.Column('card_brand', sa.String(length=32), nullable=False),
    sa.Column('card_last4', sa.String(length=4), nullable=False),
    sa.Column('refunded_minor', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_payments_ticket_id_tickets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments')),
    sa.UniqueConstraint('ticket_id', 'position', name=op.f('uq_payments_ticket_id_position'))
    )
    op.create_table('ticket_lines',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('ticket_id', sa.String(length=32), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.Column('unit_price_minor', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('tax_rate', sa.String(length=16), nullable=False),
    sa.Column('discount_percent', sa.String(length=16), nullable=True),
    sa.Column('discount_minor', sa.Integer(), nullable=True),
    sa.Column('prepaid', sa.String(length=16), nullable=True),
    sa.Column('prepaid_holding_id', sa.String(length=64), nullable=False),
    sa.Column('staff', sa.String(length=200), nullable=False),
    sa.Column('start_at', sa.DateTime(), nullable=True),
    sa.Column('appointment_id', sa.String(length=64), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=False),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_ticket_lines_ticket_id_tickets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ticket_lines')),
    sa.UniqueConstraint('ticket_id', 'position', name=op.f('uq_ticket_lines_ticket_id_position'))
    )


def downgrade() -> None:
    op.drop_table('ticket_lines')
    op.drop_table('payments')
    op.drop_table('invoices')
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tickets_state_number'))
        batch_op.drop_index('ix_tickets_client_key_number')
        batch_op.drop_index(batch_op.f('ix_tickets_client_id_number'))

    op.drop_table('tickets')
    with op.batch_alter_table('client_holdings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_client_holdings_client_id'))

    op.drop_table('client_holdings')
    with op.batch_alter_table('appointments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_appointments_start_at'))
        batch_op.drop_index(batch_op.f('ix_appointments_client_id'))

    op.drop_table('appointments')
    op.drop_table('settings')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_done_at_next_try_at'))

    op.drop_table('outbox')
    op.drop_table('event_cursor')
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clients_phone_key_reversed'))
        batch_op.drop_index(batch_op.f('ix_clients_phone_key'))
        batch_op.drop_index(batch_op.f('ix_clients_name_key'))
        batch_op.drop_index(batch_op.f('ix_clients_last_name_key'))
        batch_op.drop_index(batch_op.f('ix_clients_email_key'))

    op.drop_table('clients')
    with op.batch_alter_table('catalog_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_catalog_items_kind_name'))

    op.drop_table('catalog_items')
