"""detail_reconciliation: each 3202's outcome, which 3203 reads

Revision ID: f4b8c2d6e901
Revises: 5e2c8a7d1f90
Create Date: 2026-12-06 02:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "f4b8c2d6e901"
down_revision: str | None = "5e2c8a7d1f90"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "detail_reconciliation",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("fixmedins_code", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("period_from", sa.Date(), nullable=False),
        sa.Column("period_to", sa.Date(), nullable=False),
        sa.Column("clr_type", sqlmodel.sql.sqltypes.AutoString(length=6), nullable=False),
        sa.Column("differences", sa.Integer(), nullable=False),
        sa.Column("msgid", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_detail_reconciliation_fixmedins_code", "detail_reconciliation", ["fixmedins_code"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_detail_reconciliation_fixmedins_code", table_name="detail_reconciliation")
    op.drop_table("detail_reconciliation")
