"""interplatform_reservations: the insured side's reservations of the inter-platform protocol

Revision ID: 7b4e9d2c6a18
Revises: 5f2a8c1d7e93
Create Date: 2026-12-06 06:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import shared.db

revision: str = "7b4e9d2c6a18"
down_revision: str | None = "5f2a8c1d7e93"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString
    op.create_table(
        "interplatform_reservations",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("reservation_id", text(length=40), nullable=False),
        sa.Column("platform", text(length=30), nullable=False),
        sa.Column("msgid", text(length=40), nullable=False),
        sa.Column("request_sha256", text(length=64), nullable=False),
        sa.Column("psn_no", text(length=30), nullable=False),
        sa.Column("insutype", text(length=6), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("status", text(length=10), nullable=False),
        sa.Column("expires_at", shared.db.AwareDateTime(), nullable=False),
        sa.Column("ytd_delta", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("treating_setl_id", text(length=40), nullable=True),
        sa.Column("confirm_msgid", text(length=40), nullable=True),
        sa.Column("release_msgid", text(length=40), nullable=True),
        sa.Column("release_reason", text(length=10), nullable=True),
        sa.Column("created_at", shared.db.AwareDateTime(), nullable=False),
        sa.Column("updated_at", shared.db.AwareDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("reservation_id"),
        sa.UniqueConstraint("platform", "msgid", name="uq_reservation_msgid"),
    )
    op.create_index(
        "ix_interplatform_reservations_psn_no", "interplatform_reservations", ["psn_no"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_interplatform_reservations_psn_no", table_name="interplatform_reservations")
    op.drop_table("interplatform_reservations")
