"""drop encounters.filed: whether care is filed comes from the filings at settlement time

Revision ID: c7d2e5f9a1b3
Revises: 7b4e9d2c6a18
Create Date: 2026-12-06 06:10:00

Nothing ever set the column (the encounter request's ``filed`` was accepted and ignored); the filings layer
(settlement.adjudication.filings) decides whether a referral or out-of-area filing covers the care.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c7d2e5f9a1b3"
down_revision: str | None = "7b4e9d2c6a18"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("encounters", schema=None) as batch_op:
        batch_op.drop_column("filed")


def downgrade() -> None:
    with op.batch_alter_table("encounters", schema=None) as batch_op:
        batch_op.add_column(sa.Column("filed", sa.Boolean(), nullable=False, server_default=sa.false()))
