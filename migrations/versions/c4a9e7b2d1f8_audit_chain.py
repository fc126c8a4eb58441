"""audit entries: the practice, the address, and a hash chain

Revision ID: c4a9e7b2d1f8
Revises: b8e3d5a1c6f2
Create Date: 2026-12-06 22:40:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'c4a9e7b2d1f8'
down_revision = 'b8e3d5a1c6f2'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('practice_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('address', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('chain_seq', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('entry_hash', sa.String(length=64), nullable=True))
        batch_op.create_index('ix_audit_entries_practice_id', ['practice_id'], unique=False)
        batch_op.create_unique_constraint('uq_audit_entries_chain_seq', ['chain_seq'])


def downgrade():
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.drop_constraint('uq_audit_entries_chain_seq', type_='unique')
        batch_op.drop_index('ix_audit_entries_practice_id')
        batch_op.drop_column('entry_hash')
        batch_op.drop_column('prev_hash')
        batch_op.drop_column('chain_seq')
        batch_op.drop_column('address')
        batch_op.drop_column('practice_id')
