"""on-call pages are acknowledged, and escalate until they are; their SMS delivery receipts

Revision ID: 6d2f8a4c1e93
Revises: 5b7d2e9f4a61
Create Date: 2026-12-03 12:30:00

"""
from alembic import op
import sqlalchemy as sa

import callcenter.models


revision = '6d2f8a4c1e93'
down_revision = '5b7d2e9f4a61'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('on_call_pages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('acknowledged_at', callcenter.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('acknowledged_by', sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column('escalation_step', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('next_step_at', callcenter.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('delivery_status', sa.String(length=20), nullable=True))
        batch_op.create_index('ix_on_call_pages_next_step_at', ['next_step_at'], unique=False)
    # Pages sent before escalation existed were handled as they were then: none of them is called down now.
    op.execute("UPDATE on_call_pages SET acknowledged_at = sent_at, "
               "acknowledged_by = 'before escalation was built' WHERE acknowledged_at IS NULL")


def downgrade():
    with op.batch_alter_table('on_call_pages', schema=None) as batch_op:
        batch_op.drop_index('ix_on_call_pages_next_step_at')
        batch_op.drop_column('delivery_status')
        batch_op.drop_column('next_step_at')
        batch_op.drop_column('escalation_step')
        batch_op.drop_column('acknowledged_by')
        batch_op.drop_column('acknowledged_at')
