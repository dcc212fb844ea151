"""price caps by treating region (就医地限价) on catalogue items

Revision ID: 5f2a8c1d7e93
Revises: b6e1c4d8a2f7
Create Date: 2026-12-06 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5f2a8c1d7e93"
down_revision: str | None = "b6e1c4d8a2f7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("catalogue_items") as batch_op:
        batch_op.add_column(sa.Column("pric_uplmt_by_admdvs", sa.JSON(), nullable=False, server_default="{}"))


def downgrade() -> None:
    with op.batch_alter_table("catalogue_items") as batch_op:
        batch_op.drop_column("pric_uplmt_by_admdvs")
