"""event feed watermarks (the gap check's position per producer)

Revision ID: 5e1c0a7d9b21
Revises: 4441b4943de9
Create Date: 2026-12-05 09:40:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db


revision: str = '5e1c0a7d9b21'
down_revision: str | None = '4441b4943de9'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('event_feed_watermarks',
    sa.Column('producer', sa.String(length=50), nullable=False),
    sa.Column('position', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', shared.db.AwareDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('producer')
    )


def downgrade() -> None:
    op.drop_table('event_feed_watermarks')
