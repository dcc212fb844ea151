"""interplatform_peer_settlements.release_reason: why a peer (跨省) settlement was reversed (reversal, timeout)

Revision ID: a9c4e2f6b8d1
Revises: a6c8e0f2b4d7
Create Date: 2026-12-06 21:50:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = "a9c4e2f6b8d1"
down_revision: str | None = "a6c8e0f2b4d7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("interplatform_peer_settlements") as batch_op:
        batch_op.add_column(
            sa.Column("release_reason", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("interplatform_peer_settlements") as batch_op:
        batch_op.drop_column("release_reason")
