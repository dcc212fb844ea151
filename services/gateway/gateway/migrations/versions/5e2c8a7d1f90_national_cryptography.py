"""national cryptography: his_institution.envelope_crypto and the institutions' keys (his_institution_key)

Revision ID: 5e2c8a7d1f90
Revises: 9a438198edab
Create Date: 2026-12-06 02:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import shared.db

revision: str = "5e2c8a7d1f90"
down_revision: str | None = "9a438198edab"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("his_institution") as batch_op:
        batch_op.add_column(
            sa.Column(
                "envelope_crypto",
                sqlmodel.sql.sqltypes.AutoString(length=8),
                nullable=False,
                server_default="none",
            )
        )
    op.create_table(
        "his_institution_key",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("fixmedins_code", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("valid_from", shared.db.AwareDateTime(), nullable=False),
        sa.Column("valid_until", shared.db.AwareDateTime(), nullable=True),
        sa.Column("created_at", shared.db.AwareDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("his_institution_key") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_his_institution_key_fixmedins_code"), ["fixmedins_code"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("his_institution_key") as batch_op:
        batch_op.drop_index(batch_op.f("ix_his_institution_key_fixmedins_code"))
    op.drop_table("his_institution_key")
    with op.batch_alter_table("his_institution") as batch_op:
        batch_op.drop_column("envelope_crypto")
