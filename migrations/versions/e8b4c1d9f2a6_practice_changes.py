"""practices' own admins change their settings in the portal: each change to a practice's settings, hours
or on-call schedule is kept, with who made it and every field before and after

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


def downgrade():
    op.drop_table('practice_changes')
