"""catalogue versions and national codes

Revision ID: 2065563f61d7
Revises: d4e6f8a0b2c5
Create Date: 2026-12-06 01:58:37.127978
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import shared.db


revision: str = '2065563f61d7'
down_revision: str | None = 'd4e6f8a0b2c5'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('catalogue_list_version',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('ver', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('national_codes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('effective_to', sa.Date(), nullable=True),
    sa.Column('list_ver', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', shared.db.AwareDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('kind', 'code', 'effective_from', name='uq_national_code_version')
    )
    with op.batch_alter_table('national_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_national_codes_code'), ['code'], unique=False)
        batch_op.create_index(batch_op.f('ix_national_codes_list_ver'), ['list_ver'], unique=False)

    with op.batch_alter_table('catalogue_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('list_ver', sa.BigInteger(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('updated_at', shared.db.AwareDateTime(), nullable=True))
    # The rows already there: each its own version, in the order they were made.
    op.execute("UPDATE catalogue_items SET list_ver = id, updated_at = created_at")
    with op.batch_alter_table('catalogue_items', schema=None) as batch_op:
        batch_op.alter_column('updated_at', existing_type=shared.db.AwareDateTime(), nullable=False)
        batch_op.create_index(batch_op.f('ix_catalogue_items_list_ver'), ['list_ver'], unique=False)
    op.execute(
        "INSERT INTO catalogue_list_version (id, ver) SELECT 1, COALESCE(MAX(id), 0) FROM catalogue_items"
    )


def downgrade() -> None:
    with op.batch_alter_table('catalogue_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_catalogue_items_list_ver'))
        batch_op.drop_column('updated_at')
        batch_op.drop_column('list_ver')

    with op.batch_alter_table('national_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_national_codes_list_ver'))
        batch_op.drop_index(batch_op.f('ix_national_codes_code'))

    op.drop_table('national_codes')
    op.drop_table('catalogue_list_version')
