"""clearing_applications: institutions' applications to have a period cleared (3203/3204)

Revision ID: e1f27a5b3c46
Revises: b7e3c91d2f40
Create Date: 2026-12-06 02:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "e1f27a5b3c46"
down_revision: str | None = "b7e3c91d2f40"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "clearing_applications",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("clr_appy_evt_id", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("fixmedins_code", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("admdvs", sqlmodel.sql.sqltypes.AutoString(length=6), nullable=False),
        sa.Column("insutype", sqlmodel.sql.sqltypes.AutoString(length=6), nullable=False),
        sa.Column("clr_type", sqlmodel.sql.sqltypes.AutoString(length=6), nullable=False),
        sa.Column("period_from", sa.Date(), nullable=False),
        sa.Column("period_to", sa.Date(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("batch_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("clr_appy_evt_id"),
    )
    op.create_index(
        "ix_clearing_applications_fixmedins_code", "clearing_applications", ["fixmedins_code"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_clearing_applications_fixmedins_code", table_name="clearing_applications")
    op.drop_table("clearing_applications")
