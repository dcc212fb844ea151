"""persons: identity from the restricted topic; eligibility identity columns nullable

Revision ID: b6e1c4d8a2f7
Revises: b5e1c9a7d304
Create Date: 2026-12-06 05:20:00

``enrollment.coverage_activated`` version 2 no longer carries the ID number, name, sex and birth date:
they come on ``enrollment.identity`` (``enrollment.person_identity``) into ``persons`` and are copied onto
``eligibility``, whose identity columns are NULL until the person's identity has arrived. ``persons`` is
filled from the identities ``eligibility`` already holds.
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import shared.db

revision: str = "b6e1c4d8a2f7"
down_revision: str | None = "b5e1c9a7d304"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "persons",
        sa.Column("psn_no", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("certno", sqlmodel.sql.sqltypes.AutoString(length=18), nullable=False),
        sa.Column("psn_name", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
        sa.Column("gend", sqlmodel.sql.sqltypes.AutoString(length=1), nullable=False),
        sa.Column("brdy", sa.Date(), nullable=False),
        sa.Column("naty", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=True),
        sa.Column("updated_at", shared.db.AwareDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("psn_no"),
    )
    op.execute(
        "INSERT INTO persons (psn_no, certno, psn_name, gend, brdy, naty, updated_at) "
        "SELECT e.psn_no, e.certno, e.psn_name, e.gend, e.brdy, e.naty, e.updated_at FROM eligibility e "
        "WHERE e.id = (SELECT max(l.id) FROM eligibility l WHERE l.psn_no = e.psn_no)"
    )
    with op.batch_alter_table("eligibility", schema=None) as batch_op:
        batch_op.alter_column("certno", existing_type=sqlmodel.sql.sqltypes.AutoString(length=18), nullable=True)
        batch_op.alter_column("psn_name", existing_type=sqlmodel.sql.sqltypes.AutoString(length=50), nullable=True)
        batch_op.alter_column("gend", existing_type=sqlmodel.sql.sqltypes.AutoString(length=1), nullable=True)
        batch_op.alter_column("brdy", existing_type=sa.Date(), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM eligibility WHERE certno IS NULL")
    with op.batch_alter_table("eligibility", schema=None) as batch_op:
        batch_op.alter_column("brdy", existing_type=sa.Date(), nullable=False)
        batch_op.alter_column("gend", existing_type=sqlmodel.sql.sqltypes.AutoString(length=1), nullable=False)
        batch_op.alter_column("psn_name", existing_type=sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False)
        batch_op.alter_column("certno", existing_type=sqlmodel.sql.sqltypes.AutoString(length=18), nullable=False)
    op.drop_table("persons")
