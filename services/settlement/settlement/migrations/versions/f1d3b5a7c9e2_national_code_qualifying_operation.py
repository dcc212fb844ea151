"""national codes: oprn_code / oprn_name (the qualifying operation of a 1310 by-disease or 1311 day-surgery entry)

Revision ID: f1d3b5a7c9e2
Revises: e5a7c9b1d3f6
Create Date: 2026-12-06 18:35:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = "f1d3b5a7c9e2"
down_revision: str | None = "e5a7c9b1d3f6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("national_codes") as batch_op:
        batch_op.add_column(sa.Column("oprn_code", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=True))
        batch_op.add_column(sa.Column("oprn_name", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("national_codes") as batch_op:
        batch_op.drop_column("oprn_name")
        batch_op.drop_column("oprn_code")
