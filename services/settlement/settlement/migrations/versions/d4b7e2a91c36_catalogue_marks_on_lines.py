"""catalogue marks (基本药物, 谈判药, 儿童用药, 目录特项, 直报) on catalogue items and settled lines; naty
on the eligibility read model

Revision ID: d4b7e2a91c36
Revises: d9e63f4a1c25
Create Date: 2026-12-06 02:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "d4b7e2a91c36"
down_revision: str | None = "d9e63f4a1c25"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CATALOGUE_MARKS = ("essential_drug", "negotiated_drug", "child_medicine", "special_item", "direct_reimbursement")
LINE_MARKS = (*CATALOGUE_MARKS[:4], "restricted", "direct_reimbursement")


def upgrade() -> None:
    with op.batch_alter_table("catalogue_items") as batch_op:
        for name in CATALOGUE_MARKS:
            batch_op.add_column(sa.Column(name, sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("settlement_lines") as batch_op:
        for name in LINE_MARKS:
            batch_op.add_column(sa.Column(name, sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("eligibility") as batch_op:
        batch_op.add_column(sa.Column("naty", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("eligibility") as batch_op:
        batch_op.drop_column("naty")
    with op.batch_alter_table("settlement_lines") as batch_op:
        for name in reversed(LINE_MARKS):
            batch_op.drop_column(name)
    with op.batch_alter_table("catalogue_items") as batch_op:
        for name in reversed(CATALOGUE_MARKS):
            batch_op.drop_column(name)
