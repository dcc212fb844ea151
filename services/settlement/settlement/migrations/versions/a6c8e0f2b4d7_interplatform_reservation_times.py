"""interplatform_reservations: begntime, confirmed_at, released_at (a confirmed reservation is a settlement
record of the insured platform, reversed by its release: reconciliation and reports read them)

Revision ID: a6c8e0f2b4d7
Revises: a7c3e5b9d1f4
Create Date: 2026-12-06 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db

revision: str = "a6c8e0f2b4d7"
down_revision: str | None = "a7c3e5b9d1f4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("interplatform_reservations") as batch_op:
        batch_op.add_column(sa.Column("begntime", shared.db.AwareDateTime(), nullable=True))
        batch_op.add_column(sa.Column("confirmed_at", shared.db.AwareDateTime(), nullable=True))
        batch_op.add_column(sa.Column("released_at", shared.db.AwareDateTime(), nullable=True))
        batch_op.create_index("ix_interplatform_reservations_confirmed_at", ["confirmed_at"], unique=False)
        batch_op.create_index("ix_interplatform_reservations_released_at", ["released_at"], unique=False)
    # Reservations kept before: a confirmed one was confirmed at its last change; a released one that had
    # been confirmed (it has the treating setl_id) was released at its last change and confirmed within
    # its hold (its creation is taken); the time of care is taken as the reservation's.
    reservations = sa.table(
        "interplatform_reservations",
        sa.column("status", sa.String),
        sa.column("treating_setl_id", sa.String),
        sa.column("created_at", shared.db.AwareDateTime()),
        sa.column("updated_at", shared.db.AwareDateTime()),
        sa.column("begntime", shared.db.AwareDateTime()),
        sa.column("confirmed_at", shared.db.AwareDateTime()),
        sa.column("released_at", shared.db.AwareDateTime()),
    )
    op.execute(reservations.update().values(begntime=reservations.c.created_at))
    op.execute(
        reservations.update()
        .where(reservations.c.status == "confirmed")
        .values(confirmed_at=reservations.c.updated_at)
    )
    op.execute(
        reservations.update()
        .where(reservations.c.status == "released")
        .values(released_at=reservations.c.updated_at)
    )
    op.execute(
        reservations.update()
        .where(reservations.c.status == "released", reservations.c.treating_setl_id.is_not(None))
        .values(confirmed_at=reservations.c.created_at)
    )


def downgrade() -> None:
    with op.batch_alter_table("interplatform_reservations") as batch_op:
        batch_op.drop_index("ix_interplatform_reservations_released_at")
        batch_op.drop_index("ix_interplatform_reservations_confirmed_at")
        for column in ("released_at", "confirmed_at", "begntime"):
            batch_op.drop_column(column)
