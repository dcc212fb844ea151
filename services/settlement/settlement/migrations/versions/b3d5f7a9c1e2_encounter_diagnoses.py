"""encounter diagnoses

Revision ID: b3d5f7a9c1e2
Revises: c7d2e5f9a1b3
Create Date: 2026-12-06 05:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import shared.db


revision: str = "b3d5f7a9c1e2"
down_revision: str | None = "c7d2e5f9a1b3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "encounter_diagnoses",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("mdtrt_id", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("inout_diag_type", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("diag_type", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("diag_srt_no", sa.Integer(), nullable=False),
        sa.Column("diag_code", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("diag_name", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("maindiag_flag", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("adm_cond", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("diag_dept", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("dise_dor_no", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=True),
        sa.Column("dise_dor_name", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=True),
        sa.Column("diag_time", shared.db.AwareDateTime(), nullable=True),
        sa.Column("vali_flag", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("created_at", shared.db.AwareDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["mdtrt_id"], ["encounters.mdtrt_id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("encounter_diagnoses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_encounter_diagnoses_mdtrt_id"), ["mdtrt_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("encounter_diagnoses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_encounter_diagnoses_mdtrt_id"))

    op.drop_table("encounter_diagnoses")
