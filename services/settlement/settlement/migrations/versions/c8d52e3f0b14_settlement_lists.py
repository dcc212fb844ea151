"""settlement_lists: the 医保结算清单 of inpatient settlements (4101/4101A/4102/4103)

Revision ID: c8d52e3f0b14
Revises: b7c41d2e9a03
Create Date: 2026-12-06 02:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "c8d52e3f0b14"
down_revision: str | None = "b7c41d2e9a03"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "settlement_lists",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("setl_id", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("mdtrt_id", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("psn_no", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("fixmedins_code", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("version", sqlmodel.sql.sqltypes.AutoString(length=6), nullable=False),
        sa.Column("stas_type", sqlmodel.sql.sqltypes.AutoString(length=1), nullable=False),
        sa.Column("adm_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dscg_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dscg_way", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_settlement_lists_setl_id", "settlement_lists", ["setl_id"], unique=True)
    op.create_index("ix_settlement_lists_fixmedins_code", "settlement_lists", ["fixmedins_code"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_settlement_lists_fixmedins_code", table_name="settlement_lists")
    op.drop_index("ix_settlement_lists_setl_id", table_name="settlement_lists")
    op.drop_table("settlement_lists")
