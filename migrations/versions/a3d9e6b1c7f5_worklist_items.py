"""the supervisors' worklist of calls nobody owns, each with why, who took it and what was done

Revision ID: a3d9e6b1c7f5
Revises: f1a6c3d8e2b4
Create Date: 2026-12-07 16:30:00

"""
from alembic import op
import sqlalchemy as sa

import callcenter.models


revision = 'a3d9e6b1c7f5'
down_revision = 'f1a6c3d8e2b4'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'worklist_items',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('call_id', sa.Integer(), nullable=False),
        sa.Column('practice_id', sa.Integer(), nullable=True),
        sa.Column('reason', sa.String(length=40), nullable=False),
        sa.Column('urgent', sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column('raised_at', callcenter.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('owner_id', sa.Integer(), nullable=True),
        sa.Column('owned_at', callcenter.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column('resolved_at', callcenter.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column('note', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['call_id'], ['calls.id'], name='fk_worklist_items_call_id_calls'),
        sa.ForeignKeyConstraint(['practice_id'], ['practices.id'], name='fk_worklist_items_practice_id_practices'),
        sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name='fk_worklist_items_owner_id_users'),
        sa.PrimaryKeyConstraint('id', name='pk_worklist_items'),
        sa.UniqueConstraint('call_id', 'reason', name='uq_worklist_items_call_reason'),
    )
    with op.batch_alter_table('worklist_items', schema=None) as batch_op:
        batch_op.create_index('ix_worklist_items_call_id', ['call_id'], unique=False)
        batch_op.create_index('ix_worklist_items_practice_id', ['practice_id'], unique=False)
        batch_op.create_index('ix_worklist_items_raised_at', ['raised_at'], unique=False)
        batch_op.create_index('ix_worklist_items_resolved_at', ['resolved_at'], unique=False)


def downgrade():
    op.drop_table('worklist_items')
