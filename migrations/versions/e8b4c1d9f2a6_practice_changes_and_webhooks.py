"""practices' own admins change their settings in the portal: each change to a practice's settings, hours
or on-call schedule is kept, with who made it and every field before and after; outbound webhooks to a
practice's own system, each delivery kept with its attempts

Revision ID: e8b4c1d9f2a6
Revises: d4a1f7c3e8b2
Create Date: 2026-12-07 19:40:00

"""
from alembic import op
import sqlalchemy as sa

import callcenter.models


revision = 'e8b4c1d9f2a6'
down_revision = 'd4a1f7c3e8b2'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'practice_changes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('practice_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('by', sa.String(length=200), nullable=False),
        sa.Column('at', callcenter.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('what', sa.String(length=40), nullable=False),
        sa.Column('changes', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['practice_id'], ['practices.id'], name='fk_practice_changes_practice_id_practices'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name='fk_practice_changes_user_id_users'),
        sa.PrimaryKeyConstraint('id', name='pk_practice_changes'),
    )
    with op.batch_alter_table('practice_changes', schema=None) as batch_op:
        batch_op.create_index('ix_practice_changes_practice_id', ['practice_id'], unique=False)
        batch_op.create_index('ix_practice_changes_at', ['at'], unique=False)
    with op.batch_alter_table('practices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('webhook_url', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('webhook_secret', sa.String(length=80), nullable=True))
    op.create_table(
        'webhook_deliveries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('practice_id', sa.Integer(), nullable=False),
        sa.Column('event', sa.String(length=40), nullable=False),
        sa.Column('payload', sa.JSON(), nullable=False),
        sa.Column('status', sa.String(length=12), server_default='pending', nullable=False),
        sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
        sa.Column('next_attempt_at', callcenter.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('last_status', sa.Integer(), nullable=True),
        sa.Column('last_error', sa.String(length=200), nullable=True),
        sa.Column('created_at', callcenter.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('delivered_at', callcenter.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['practice_id'], ['practices.id'], name='fk_webhook_deliveries_practice_id_practices'),
        sa.PrimaryKeyConstraint('id', name='pk_webhook_deliveries'),
    )
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_deliveries_practice_id', ['practice_id'], unique=False)
        batch_op.create_index('ix_webhook_deliveries_status', ['status'], unique=False)
        batch_op.create_index('ix_webhook_deliveries_next_attempt_at', ['next_attempt_at'], unique=False)
        batch_op.create_index('ix_webhook_deliveries_created_at', ['created_at'], unique=False)


def downgrade():
    op.drop_table('webhook_deliveries')
    with op.batch_alter_table('practices', schema=None) as batch_op:
        batch_op.drop_column('webhook_secret')
        batch_op.drop_column('webhook_url')
    op.drop_table('practice_changes')
