"""catalogue mappings

Revision ID: 8a93d6d055a9
Revises: d4b7e2a91c36
Create Date: 2026-12-06 02:35:40.056981
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import shared.db


revision: str = '8a93d6d055a9'
down_revision: str | None = 'd4b7e2a91c36'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('catalogue_mappings',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('fixmedins_code', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
    sa.Column('medins_list_codg', sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
    sa.Column('med_list_codg', sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
    sa.Column('list_type', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('begndate', sa.Date(), nullable=False),
    sa.Column('enddate', sa.Date(), nullable=True),
    sa.Column('revoked_on', sa.Date(), nullable=True),
    sa.Column('created_msgid', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=True),
    sa.Column('revoked_msgid', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=True),
    sa.Column('created_at', shared.db.AwareDateTime(), nullable=False),
    sa.Column('updated_at', shared.db.AwareDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('catalogue_mappings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_catalogue_mappings_fixmedins_code'), ['fixmedins_code'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('catalogue_mappings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_catalogue_mappings_fixmedins_code'))

    op.drop_table('catalogue_mappings')
