"""interplatform_peer_voids: the release a 2601 owes a peer platform for a reservation whose answer was lost

Revision ID: d2f4a6c8e0b1
Revises: c5e7a9b1d3f2
Create Date: 2026-12-07 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import shared.db

revision: str = "d2f4a6c8e0b1"
down_revision: str | None = "c5e7a9b1d3f2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "interplatform_peer_voids",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("peer", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("msgid", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("psn_no", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("created_at", shared.db.AwareDateTime(), nullable=False),
        sa.Column("updated_at", shared.db.AwareDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("peer", "msgid", name="uq_peer_void_msgid"),
    )
    with op.batch_alter_table("interplatform_peer_voids", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_interplatform_peer_voids_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("interplatform_peer_voids", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_interplatform_peer_voids_status"))
    op.drop_table("interplatform_peer_voids")
