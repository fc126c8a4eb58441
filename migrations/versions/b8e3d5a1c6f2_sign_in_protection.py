"""sign-in protection: wrong passwords counted and accounts locked, two-factor sign-in, sessions kept on the
server, the address of each security event

Revision ID: b8e3d5a1c6f2
Revises: 6d2f8a4c1e93
Create Date: 2026-12-06 22:00:00

"""
from alembic import op
import sqlalchemy as sa

import callcenter.models


revision = 'b8e3d5a1c6f2'
down_revision = '6d2f8a4c1e93'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failed_logins', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('locked_at', callcenter.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('totp_secret', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('totp_last_step', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('recovery_codes', sa.JSON(), nullable=True))
    with op.batch_alter_table('security_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('address', sa.String(length=64), nullable=True))
    op.create_table(
        'login_sessions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('started_at', callcenter.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('last_seen_at', callcenter.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('ended_at', callcenter.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column('ended_why', sa.String(length=40), nullable=True),
        sa.Column('address', sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('token_hash'),
    )
    with op.batch_alter_table('login_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_login_sessions_user_id', ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('login_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_login_sessions_user_id')
    op.drop_table('login_sessions')
    with op.batch_alter_table('security_events', schema=None) as batch_op:
        batch_op.drop_column('address')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('recovery_codes')
        batch_op.drop_column('totp_last_step')
        batch_op.drop_column('totp_secret')
        batch_op.drop_column('locked_at')
        batch_op.drop_column('failed_logins')
