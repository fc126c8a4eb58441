"""on-call pages carry a one-time link that shows the message once the clinician confirms who they are;
a practice's own emergency line for urgent callers when nobody is on call

Revision ID: c2f8b5e9d3a7
Revises: b7e2c9d4a1f6
Create Date: 2026-12-07 17:00:00

"""
from alembic import op
import sqlalchemy as sa

import callcenter.models


revision = 'c2f8b5e9d3a7'
down_revision = 'b7e2c9d4a1f6'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('on_call_pages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('link_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('link_tries', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('link_used_at', callcenter.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_unique_constraint('uq_on_call_pages_link_hash', ['link_hash'])
    with op.batch_alter_table('practices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('emergency_number', sa.String(length=20), nullable=True))


def downgrade():
    with op.batch_alter_table('practices', schema=None) as batch_op:
        batch_op.drop_column('emergency_number')
    with op.batch_alter_table('on_call_pages', schema=None) as batch_op:
        batch_op.drop_constraint('uq_on_call_pages_link_hash', type_='unique')
        batch_op.drop_column('link_used_at')
        batch_op.drop_column('link_tries')
        batch_op.drop_column('link_hash')
