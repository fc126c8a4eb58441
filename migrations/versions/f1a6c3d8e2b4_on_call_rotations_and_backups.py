"""on-call rotations (recurring slots in the practice's time), backups for each slot, and pages that go to
the backup when the clinician on call does not acknowledge

Revision ID: f1a6c3d8e2b4
Revises: e5c8a2f7b3d9
Create Date: 2026-12-07 16:10:00

"""
from alembic import op
import sqlalchemy as sa

import callcenter.models


revision = 'f1a6c3d8e2b4'
down_revision = 'e5c8a2f7b3d9'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'on_call_rotations',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('practice_id', sa.Integer(), nullable=False),
        sa.Column('clinician_name', sa.String(length=200), nullable=False),
        sa.Column('number', sa.String(length=20), nullable=False),
        sa.Column('backup_name', sa.String(length=200), nullable=True),
        sa.Column('backup_number', sa.String(length=20), nullable=True),
        sa.Column('weekdays', sa.JSON(), nullable=False),
        sa.Column('starts', sa.Time(), nullable=False),
        sa.Column('ends', sa.Time(), nullable=False),
        sa.Column('created_at', callcenter.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['practice_id'], ['practices.id'], name='fk_on_call_rotations_practice_id_practices'),
        sa.PrimaryKeyConstraint('id', name='pk_on_call_rotations'),
    )
    with op.batch_alter_table('on_call_rotations', schema=None) as batch_op:
        batch_op.create_index('ix_on_call_rotations_practice_id', ['practice_id'], unique=False)
    with op.batch_alter_table('on_call_shifts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('backup_name', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('backup_number', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('rotation_id', sa.Integer(), nullable=True))
        batch_op.create_index('ix_on_call_shifts_rotation_id', ['rotation_id'], unique=False)
        batch_op.create_foreign_key('fk_on_call_shifts_rotation_id_on_call_rotations', 'on_call_rotations',
                                    ['rotation_id'], ['id'])
        batch_op.create_unique_constraint('uq_on_call_shifts_rotation_start', ['rotation_id', 'starts_at'])
    with op.batch_alter_table('on_call_pages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recipient', sa.String(length=20), server_default='on_call', nullable=False))
    # A step for the backup comes before the supervisors: pages already with the supervisors stay there.
    op.execute("UPDATE on_call_pages SET escalation_step = 3 WHERE escalation_step = 2")


def downgrade():
    op.execute("UPDATE on_call_pages SET escalation_step = 2 WHERE escalation_step >= 2")
    with op.batch_alter_table('on_call_pages', schema=None) as batch_op:
        batch_op.drop_column('recipient')
    with op.batch_alter_table('on_call_shifts', schema=None) as batch_op:
        batch_op.drop_constraint('uq_on_call_shifts_rotation_start', type_='unique')
        batch_op.drop_constraint('fk_on_call_shifts_rotation_id_on_call_rotations', type_='foreignkey')
        batch_op.drop_index('ix_on_call_shifts_rotation_id')
        batch_op.drop_column('rotation_id')
        batch_op.drop_column('backup_number')
        batch_op.drop_column('backup_name')
    op.drop_table('on_call_rotations')
