"""encounters, encounter_diagnoses, fee_lines: who recorded them (opter_id / opter_name); encounters and
fee_lines: the descriptive fields the HIS sent (details), answered by 5201 / 5202 / 5204

Revision ID: b7e2d4f6a8c1
Revises: a9c4e2f6b8d1
Create Date: 2026-12-06 22:15:00
"""
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = "b7e2d4f6a8c1"
down_revision: str | None = "a9c4e2f6b8d1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _operator(batch_op: Any) -> None:
    batch_op.add_column(
        sa.Column("opter_id", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False, server_default="")
    )
    batch_op.add_column(
        sa.Column("opter_name", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False, server_default="")
    )


def upgrade() -> None:
    with op.batch_alter_table("encounters") as batch_op:
        _operator(batch_op)
        batch_op.add_column(sa.Column("details", sa.JSON(), nullable=False, server_default=sa.text("'{}'")))
    with op.batch_alter_table("encounter_diagnoses") as batch_op:
        _operator(batch_op)
    with op.batch_alter_table("fee_lines") as batch_op:
        _operator(batch_op)
        batch_op.add_column(sa.Column("details", sa.JSON(), nullable=False, server_default=sa.text("'{}'")))


def downgrade() -> None:
    for table in ("fee_lines", "encounters"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("details")
    for table in ("fee_lines", "encounter_diagnoses", "encounters"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("opter_name")
            batch_op.drop_column("opter_id")
