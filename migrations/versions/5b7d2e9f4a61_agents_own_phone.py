"""an agent's own phone: calls reach them there, with a whisper, instead of in the browser

Revision ID: 5b7d2e9f4a61
Revises: 4e8a1c3b9d27
Create Date: 2026-12-03 12:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '5b7d2e9f4a61'
down_revision = '4e8a1c3b9d27'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('audio_phone', sa.String(length=20), nullable=True))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('audio_phone')
