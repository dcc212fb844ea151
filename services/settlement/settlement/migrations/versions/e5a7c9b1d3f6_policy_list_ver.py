"""benefit policies: list_ver (the catalogue version of the 1309 chronic disease list they hold)

Revision ID: e5a7c9b1d3f6
Revises: d4a7c9e1f3b6
Create Date: 2026-12-06 18:20:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "e5a7c9b1d3f6"
down_revision: str | None = "d4a7c9e1f3b6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("benefit_policies") as batch_op:
        batch_op.add_column(sa.Column("list_ver", sa.BigInteger(), nullable=False, server_default="0"))
        batch_op.create_index(batch_op.f("ix_benefit_policies_list_ver"), ["list_ver"], unique=False)
    # The policies already there are one change of the list, at a new catalogue version: an institution
    # that downloads 1309 from any version it holds receives them.
    op.execute(
        "UPDATE catalogue_list_version SET ver = ver + 1"
        " WHERE id = 1 AND EXISTS (SELECT 1 FROM benefit_policies)"
    )
    op.execute(
        "UPDATE benefit_policies SET list_ver = (SELECT ver FROM catalogue_list_version WHERE id = 1)"
        " WHERE EXISTS (SELECT 1 FROM catalogue_list_version WHERE id = 1)"
    )


def downgrade() -> None:
    with op.batch_alter_table("benefit_policies") as batch_op:
        batch_op.drop_index(batch_op.f("ix_benefit_policies_list_ver"))
        batch_op.drop_column("list_ver")
