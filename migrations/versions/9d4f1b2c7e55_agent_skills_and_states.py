"""agents' skills and the ledger of their states; repeat callers

Revision ID: 9d4f1b2c7e55
Revises: 7c2e4a9d1f30
Create Date: 2026-12-02 21:00:00

"""
from alembic import op
import sqlalchemy as sa

from callcenter.models import UTCDateTime

revision = '9d4f1b2c7e55'
down_revision = '7c2e4a9d1f30'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('languages', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('trained_practices', sa.JSON(), nullable=True))
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.add_column(sa.Column('repeat_caller', sa.Boolean(), server_default=sa.false(), nullable=False))
        # A caller's earlier calls and open cases are looked up by their number on every queued call.
        batch_op.create_index('ix_calls_practice_from', ['practice_id', 'from_number'], unique=False)
    with op.batch_alter_table('callback_tasks', schema=None) as batch_op:
        batch_op.create_index('ix_callback_tasks_practice_number', ['practice_id', 'number'], unique=False)
    op.create_table(
        'agent_state_changes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('agent_id', sa.Integer(), nullable=False),
        sa.Column('state', sa.String(length=20), nullable=False),
        sa.Column('reason', sa.String(length=40), nullable=True),
        sa.Column('call_id', sa.Integer(), nullable=True),
        sa.Column('at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['agent_id'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('agent_state_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_agent_state_changes_agent_id'), ['agent_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_agent_state_changes_at'), ['at'], unique=False)


def downgrade():
    with op.batch_alter_table('agent_state_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_agent_state_changes_at'))
        batch_op.drop_index(batch_op.f('ix_agent_state_changes_agent_id'))
    op.drop_table('agent_state_changes')
    with op.batch_alter_table('callback_tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_callback_tasks_practice_number')
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_index('ix_calls_practice_from')
        batch_op.drop_column('repeat_caller')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('trained_practices')
        batch_op.drop_column('languages')
