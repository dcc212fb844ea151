"""precheck_feedback: an institution's answers to pre-check warnings (3103)

Revision ID: b7c41d2e9a03
Revises: 2065563f61d7
Create Date: 2026-12-06 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "b7c41d2e9a03"
down_revision: str | None = "2065563f61d7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "precheck_feedback",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("fixmedins_code", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("msgid", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("warn_rslt_id", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
        sa.Column("warn_type", sqlmodel.sql.sqltypes.AutoString(length=1), nullable=False),
        sa.Column("dspo_way", sqlmodel.sql.sqltypes.AutoString(length=1), nullable=False),
        sa.Column("dspo_way_rea", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("fixmedins_code", "msgid", "warn_rslt_id", name="uq_precheck_feedback"),
    )
    op.create_index(
        op.f("ix_precheck_feedback_fixmedins_code"), "precheck_feedback", ["fixmedins_code"], unique=False
    )
    op.create_index(
        op.f("ix_precheck_feedback_warn_rslt_id"), "precheck_feedback", ["warn_rslt_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_precheck_feedback_warn_rslt_id"), table_name="precheck_feedback")
    op.drop_index(op.f("ix_precheck_feedback_fixmedins_code"), table_name="precheck_feedback")
    op.drop_table("precheck_feedback")
