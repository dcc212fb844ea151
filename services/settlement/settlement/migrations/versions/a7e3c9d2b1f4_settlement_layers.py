"""settlements.layers: per benefit layer, the entitlement and what earlier surviving settlements had got

A stay settled in parts (中途结算) pays on its cumulative cost, so its next part reads the stay's deductible
from its first part (``stay_deductible_fen``); every layer's "entitled" and "before" are kept with the
settlement for audit (issue 23). Rows written before this revision have none: a later part of such a stay
takes the deductible its earlier parts applied as the stay's.

Revision ID: a7e3c9d2b1f4
Revises: f1857f100bc4
Create Date: 2026-12-05 14:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a7e3c9d2b1f4"
down_revision: str | None = "f1857f100bc4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("settlements", schema=None) as batch_op:
        batch_op.add_column(sa.Column("layers", sa.JSON(), nullable=False, server_default=sa.text("'{}'")))


def downgrade() -> None:
    with op.batch_alter_table("settlements", schema=None) as batch_op:
        batch_op.drop_column("layers")
