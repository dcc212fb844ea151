"""catalogue items: list_kind (1303 制剂, 1304 民族药, 1320 配方颗粒, 1321 服务项目(新)); catalogue mappings:
list_ver (the catalogue version of a mapping's last change, downloaded with 1317)

Revision ID: a7c3e5b9d1f4
Revises: f1d3b5a7c9e2
Create Date: 2026-12-06 21:50:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = "a7c3e5b9d1f4"
down_revision: str | None = "f1d3b5a7c9e2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("catalogue_items") as batch_op:
        batch_op.add_column(sa.Column("list_kind", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True))
    with op.batch_alter_table("catalogue_mappings") as batch_op:
        batch_op.add_column(sa.Column("list_ver", sa.BigInteger(), nullable=False, server_default="0"))
        batch_op.create_index(batch_op.f("ix_catalogue_mappings_list_ver"), ["list_ver"], unique=False)
    # The mappings already there are one change, at a new catalogue version: an institution that downloads
    # 1317 from any version it holds receives them.
    op.execute(
        "UPDATE catalogue_list_version SET ver = ver + 1"
        " WHERE id = 1 AND EXISTS (SELECT 1 FROM catalogue_mappings)"
    )
    op.execute(
        "UPDATE catalogue_mappings SET list_ver = (SELECT ver FROM catalogue_list_version WHERE id = 1)"
        " WHERE EXISTS (SELECT 1 FROM catalogue_list_version WHERE id = 1)"
    )


def downgrade() -> None:
    with op.batch_alter_table("catalogue_mappings") as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalogue_mappings_list_ver"))
        batch_op.drop_column("list_ver")
    with op.batch_alter_table("catalogue_items") as batch_op:
        batch_op.drop_column("list_kind")
