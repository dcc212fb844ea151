"""filings: 门慢门特 registrations (2503/2504) and designated facilities (2505/2506) the engine reads

Revision ID: f3a8b1c7d2e9
Revises: a7e3c5d9f0b1
Create Date: 2026-12-05 23:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "f3a8b1c7d2e9"
down_revision: str | None = "a7e3c5d9f0b1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "filings",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("trt_dcla_detl_sn", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("psn_no", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("insutype", sqlmodel.sql.sqltypes.AutoString(length=6), nullable=False),
        sa.Column("insuplc_admdvs", sqlmodel.sql.sqltypes.AutoString(length=6), nullable=False),
        sa.Column("fixmedins_code", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("opsp_dise_code", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=True),
        sa.Column("opsp_dise_name", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column("designated_fixmedins_code", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=True),
        sa.Column("designated_fixmedins_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("fix_srt_no", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=True),
        sa.Column("biz_appy_type", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=True),
        sa.Column("begndate", sa.Date(), nullable=False),
        sa.Column("enddate", sa.Date(), nullable=True),
        sa.Column("memo", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("revoked_on", sa.Date(), nullable=True),
        sa.Column("revoke_memo", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_filings_trt_dcla_detl_sn", "filings", ["trt_dcla_detl_sn"], unique=True)
    op.create_index("ix_filings_psn_no", "filings", ["psn_no"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_filings_psn_no", table_name="filings")
    op.drop_index("ix_filings_trt_dcla_detl_sn", table_name="filings")
    op.drop_table("filings")
