"""city-level pooling

(Autogenerate on SQLite also proposes turning the 64-bit amount columns of journal_entries and postings
into BIGINT: SQLite integers are 64-bit already, and altering them there would recreate the append-only
tables without their triggers, so that part is left out on purpose; PostgreSQL got them in 73991aa17c3f.)

Revision ID: deb5b8ed070d
Revises: 73991aa17c3f
Create Date: 2026-11-23 06:05:21.084687
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import shared.db


revision: str = 'deb5b8ed070d'
down_revision: str | None = '73991aa17c3f'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('city_pooling',
    sa.Column('county_admdvs', sqlmodel.sql.sqltypes.AutoString(length=6), nullable=False),
    sa.Column('city_admdvs', sqlmodel.sql.sqltypes.AutoString(length=6), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('approved_by', sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
    sa.Column('document_ref', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('created_at', shared.db.AwareDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('county_admdvs')
    )
    with op.batch_alter_table('city_pooling', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_city_pooling_city_admdvs'), ['city_admdvs'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('city_pooling', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_city_pooling_city_admdvs'))
    op.drop_table('city_pooling')
