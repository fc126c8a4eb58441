"""practices' daily digests: when and to whom, and each digest kept for the portal

Revision ID: b7e2c9d4a1f6
Revises: a3d9e6b1c7f5
Create Date: 2026-12-07 16:40:00

"""
from alembic import op
import sqlalchemy as sa

import callcenter.models


revision = 'b7e2c9d4a1f6'
down_revision = 'a3d9e6b1c7f5'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('practices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('digest_at', sa.Time(), server_default='07:00:00', nullable=False))
        batch_op.add_column(sa.Column('digest_emails', sa.Text(), nullable=True))
    op.create_table(
        'digests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('practice_id', sa.Integer(), nullable=False),
        sa.Column('period_start', callcenter.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('period_end', callcenter.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('subject', sa.String(length=200), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('created_at', callcenter.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('recipients', sa.Text(), nullable=True),
        sa.Column('emailed_at', callcenter.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column('email_error', sa.String(length=200), nullable=True),
        sa.Column('email_tries', sa.Integer(), server_default='0', nullable=False),
        sa.ForeignKeyConstraint(['practice_id'], ['practices.id'], name='fk_digests_practice_id_practices'),
        sa.PrimaryKeyConstraint('id', name='pk_digests'),
        sa.UniqueConstraint('practice_id', 'period_end', name='uq_digests_practice_period_end'),
    )
    with op.batch_alter_table('digests', schema=None) as batch_op:
        batch_op.create_index('ix_digests_practice_id', ['practice_id'], unique=False)


def downgrade():
    op.drop_table('digests')
    with op.batch_alter_table('practices', schema=None) as batch_op:
        batch_op.drop_column('digest_emails')
        batch_op.drop_column('digest_at')
