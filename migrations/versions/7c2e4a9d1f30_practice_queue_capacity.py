"""a practice's own queue capacity

Revision ID: 7c2e4a9d1f30
Revises: 1ba1359674db
Create Date: 2026-12-02 02:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '7c2e4a9d1f30'
down_revision = '1ba1359674db'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('practices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('queue_capacity', sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table('practices', schema=None) as batch_op:
        batch_op.drop_column('queue_capacity')
