"""call recordings: practices may record patients' conversations with agents; the service keeps its copy

Revision ID: e5c8a2f7b3d9
Revises: d7b3f1a9c2e5
Create Date: 2026-12-07 16:00:00

"""
from alembic import op
import sqlalchemy as sa

import callcenter.models


revision = 'e5c8a2f7b3d9'
down_revision = 'd7b3f1a9c2e5'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('practices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('records_calls', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_table(
        'call_recordings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('practice_id', sa.Integer(), nullable=False),
        sa.Column('call_id', sa.Integer(), nullable=False),
        sa.Column('recording_sid', sa.String(length=64), nullable=False),
        sa.Column('twilio_url', sa.String(length=500), nullable=True),
        sa.Column('duration_seconds', sa.Integer(), nullable=True),
        sa.Column('channels', sa.Integer(), nullable=True),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('audio', sa.LargeBinary(), nullable=True),
        sa.Column('content_type', sa.String(length=40), nullable=True),
        sa.Column('size_bytes', sa.Integer(), nullable=True),
        sa.Column('created_at', callcenter.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('kept_at', callcenter.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column('deleted_at_twilio_at', callcenter.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column('removed_at', callcenter.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['call_id'], ['calls.id'], name='fk_call_recordings_call_id_calls'),
        sa.ForeignKeyConstraint(['practice_id'], ['practices.id'], name='fk_call_recordings_practice_id_practices'),
        sa.PrimaryKeyConstraint('id', name='pk_call_recordings'),
        sa.UniqueConstraint('recording_sid', name='uq_call_recordings_recording_sid'),
    )
    with op.batch_alter_table('call_recordings', schema=None) as batch_op:
        batch_op.create_index('ix_call_recordings_practice_id', ['practice_id'], unique=False)
        batch_op.create_index('ix_call_recordings_call_id', ['call_id'], unique=False)
        batch_op.create_index('ix_call_recordings_status', ['status'], unique=False)
        batch_op.create_index('ix_call_recordings_created_at', ['created_at'], unique=False)


def downgrade():
    op.drop_table('call_recordings')
    with op.batch_alter_table('practices', schema=None) as batch_op:
        batch_op.drop_column('records_calls')
