"""the day-after satisfaction survey by SMS, for practices that turn it on, and its answers; a practice's
own escalation delays; clinicians marked off duty

Revision ID: d4a1f7c3e8b2
Revises: c2f8b5e9d3a7
Create Date: 2026-12-07 17:20:00

"""
from alembic import op
import sqlalchemy as sa

import callcenter.models


revision = 'd4a1f7c3e8b2'
down_revision = 'c2f8b5e9d3a7'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('practices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('survey_enabled', sa.Boolean(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('page_minutes', sa.String(length=20), nullable=True))
    op.create_table(
        'surveys',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('practice_id', sa.Integer(), nullable=False),
        sa.Column('call_id', sa.Integer(), nullable=False),
        sa.Column('number', sa.String(length=32), nullable=False),
        sa.Column('sent_at', callcenter.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('message_sid', sa.String(length=64), nullable=True),
        sa.Column('status', sa.String(length=20), server_default='sent', nullable=False),
        sa.Column('score', sa.Integer(), nullable=True),
        sa.Column('answered_at', callcenter.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['practice_id'], ['practices.id'], name='fk_surveys_practice_id_practices'),
        sa.ForeignKeyConstraint(['call_id'], ['calls.id'], name='fk_surveys_call_id_calls'),
        sa.PrimaryKeyConstraint('id', name='pk_surveys'),
        sa.UniqueConstraint('call_id', name='uq_surveys_call_id'),
    )
    with op.batch_alter_table('surveys', schema=None) as batch_op:
        batch_op.create_index('ix_surveys_practice_id', ['practice_id'], unique=False)
        batch_op.create_index('ix_surveys_number', ['number'], unique=False)
        batch_op.create_index('ix_surveys_answered_at', ['answered_at'], unique=False)
    op.create_table(
        'off_duty',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('practice_id', sa.Integer(), nullable=False),
        sa.Column('clinician_name', sa.String(length=200), nullable=False),
        sa.Column('number', sa.String(length=20), nullable=False),
        sa.Column('starts_at', callcenter.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('ends_at', callcenter.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['practice_id'], ['practices.id'], name='fk_off_duty_practice_id_practices'),
        sa.PrimaryKeyConstraint('id', name='pk_off_duty'),
    )
    with op.batch_alter_table('off_duty', schema=None) as batch_op:
        batch_op.create_index('ix_off_duty_practice_id', ['practice_id'], unique=False)
        batch_op.create_index('ix_off_duty_number', ['number'], unique=False)


def downgrade():
    op.drop_table('off_duty')
    op.drop_table('surveys')
    with op.batch_alter_table('practices', schema=None) as batch_op:
        batch_op.drop_column('page_minutes')
        batch_op.drop_column('survey_enabled')
