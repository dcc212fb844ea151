"""catalogue items: trace_required (须采集药品追溯码)

Revision ID: c7e9a1b3d5f4
Revises: b3d5f7a9c1e2
Create Date: 2026-12-06 05:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "c7e9a1b3d5f4"
down_revision: str | None = "b3d5f7a9c1e2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("catalogue_items") as batch_op:
        batch_op.add_column(sa.Column("trace_required", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("catalogue_items") as batch_op:
        batch_op.drop_column("trace_required")
