"""filings: dcla_type (异地就医备案类别 of a referral / out-of-area filing)

Referral filings stored before are backfilled 04 (异地转诊): 2501 转院备案 is what filed them.

Revision ID: d2f6a8c0e4b7
Revises: c7e9a1b3d5f4
Create Date: 2026-12-06 14:10:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = "d2f6a8c0e4b7"
down_revision: str | None = "c7e9a1b3d5f4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("filings") as batch_op:
        batch_op.add_column(sa.Column("dcla_type", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=True))
    op.execute("UPDATE filings SET dcla_type = '04' WHERE kind = 'referral'")


def downgrade() -> None:
    with op.batch_alter_table("filings") as batch_op:
        batch_op.drop_column("dcla_type")
