"""patients' data: texts name the practice only when it opts in; recordings kept for a retention period;
messages acknowledged by someone; API keys that may write

Revision ID: d7b3f1a9c2e5
Revises: c4a9e7b2d1f8
Create Date: 2026-12-06 22:45:00

"""
from alembic import op
import sqlalchemy as sa

import callcenter.models


revision = 'd7b3f1a9c2e5'
down_revision = 'c4a9e7b2d1f8'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('practices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sms_names_practice', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('recording_retention_days', sa.Integer(), server_default='90', nullable=True))
    # Practices that exist keep their recordings (NULL) until someone chooses a period for them: an upgrade
    # must not delete, at Twilio and for good, recordings nobody chose to let go. New practices get 90 days.
    op.execute("UPDATE practices SET recording_retention_days = NULL")
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recording_removed_at', callcenter.models.UTCDateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column('acknowledged_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('acknowledged_by_key_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_messages_acknowledged_by_id_users', 'users', ['acknowledged_by_id'], ['id'])
        batch_op.create_foreign_key('fk_messages_acknowledged_by_key_id_api_keys', 'api_keys',
                                    ['acknowledged_by_key_id'], ['id'])
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('can_write', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade():
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_column('can_write')
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_constraint('fk_messages_acknowledged_by_key_id_api_keys', type_='foreignkey')
        batch_op.drop_constraint('fk_messages_acknowledged_by_id_users', type_='foreignkey')
        batch_op.drop_column('acknowledged_by_key_id')
        batch_op.drop_column('acknowledged_by_id')
        batch_op.drop_column('recording_removed_at')
    with op.batch_alter_table('practices', schema=None) as batch_op:
        batch_op.drop_column('recording_retention_days')
        batch_op.drop_column('sms_names_practice')
