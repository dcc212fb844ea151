"""interplatform_reservations.reversed_at: when the treating platform reversed a confirmed reservation's
settlement (the instant both platforms' monthly statements date the reversal by);
interplatform_peer_settlements.confirmed_at: when the peer answered the confirmation

Revision ID: c5e7a9b1d3f2
Revises: b7e2d4f6a8c1
Create Date: 2026-12-07 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db

revision: str = "c5e7a9b1d3f2"
down_revision: str | None = "b7e2d4f6a8c1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("interplatform_reservations") as batch_op:
        batch_op.add_column(sa.Column("reversed_at", shared.db.AwareDateTime(), nullable=True))
        batch_op.create_index("ix_interplatform_reservations_reversed_at", ["reversed_at"], unique=False)
    # A confirmed reservation released before: reversed when its release arrived (the only time kept).
    reservations = sa.table(
        "interplatform_reservations",
        sa.column("confirmed_at", shared.db.AwareDateTime()),
        sa.column("released_at", shared.db.AwareDateTime()),
        sa.column("reversed_at", shared.db.AwareDateTime()),
    )
    op.execute(
        reservations.update()
        .where(reservations.c.confirmed_at.is_not(None), reservations.c.released_at.is_not(None))
        .values(reversed_at=reservations.c.released_at)
    )
    with op.batch_alter_table("interplatform_peer_settlements") as batch_op:
        batch_op.add_column(sa.Column("confirmed_at", shared.db.AwareDateTime(), nullable=True))
    # A peer settlement confirmed before: at its last change (one reversed since is left unknown, and is
    # stated as before, released).
    peer_settlements = sa.table(
        "interplatform_peer_settlements",
        sa.column("status", sa.String),
        sa.column("updated_at", shared.db.AwareDateTime()),
        sa.column("confirmed_at", shared.db.AwareDateTime()),
    )
    op.execute(
        peer_settlements.update()
        .where(peer_settlements.c.status == "confirmed")
        .values(confirmed_at=peer_settlements.c.updated_at)
    )


def downgrade() -> None:
    with op.batch_alter_table("interplatform_peer_settlements") as batch_op:
        batch_op.drop_column("confirmed_at")
    with op.batch_alter_table("interplatform_reservations") as batch_op:
        batch_op.drop_index("ix_interplatform_reservations_reversed_at")
        batch_op.drop_column("reversed_at")
