"""inter_region_clearings: the monthly clearing of out-of-area care between the platform's regions

Revision ID: 3c7d1e9a5b42
Revises: e1f27a5b3c46
Create Date: 2026-12-06 05:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "3c7d1e9a5b42"
down_revision: str | None = "e1f27a5b3c46"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString
    op.create_table(
        "inter_region_clearings",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("clearing_id", text(length=40), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("insured_admdvs", text(length=6), nullable=False),
        sa.Column("treating_admdvs", text(length=6), nullable=False),
        sa.Column("insutype", text(length=6), nullable=False),
        sa.Column("fund_pay_type", text(length=6), nullable=False),
        sa.Column("brought_forward_fen", sa.BigInteger(), nullable=False),
        sa.Column("period_owed_fen", sa.BigInteger(), nullable=False),
        sa.Column("treating_period_fen", sa.BigInteger(), nullable=False),
        sa.Column("status", text(length=12), nullable=False),
        sa.Column("owed_fen", sa.BigInteger(), nullable=False),
        sa.Column("available_fen", sa.BigInteger(), nullable=False),
        sa.Column("paid_fen", sa.BigInteger(), nullable=False),
        sa.Column("carried_forward_fen", sa.BigInteger(), nullable=False),
        sa.Column("insured_entry_id", sa.BigInteger(), nullable=True),
        sa.Column("treating_entry_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("clearing_id"),
        sa.UniqueConstraint(
            "month",
            "insured_admdvs",
            "treating_admdvs",
            "insutype",
            "fund_pay_type",
            name="uq_inter_region_month",
        ),
    )


def downgrade() -> None:
    op.drop_table("inter_region_clearings")
