"""hold and consult: where the patient and the agent are while the patient holds, and the clinician's call

Revision ID: 4e8a1c3b9d27
Revises: 9d4f1b2c7e55
Create Date: 2026-12-03 09:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '4e8a1c3b9d27'
down_revision = '9d4f1b2c7e55'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hold', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('agent_leg_sid', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('consult_call_sid', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('consult_status', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('consult_ref', sa.String(length=16), nullable=True))


def downgrade():
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_column('consult_ref')
        batch_op.drop_column('consult_status')
        batch_op.drop_column('consult_call_sid')
        batch_op.drop_column('agent_leg_sid')
        batch_op.drop_column('hold')
