"""vouchers: e-voucher tokens issued to insured persons (mdtrt_cert_type 01)

Revision ID: 7c3e9b1d5a20
Revises: 6457f326b2e4
Create Date: 2026-12-06 02:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import shared.db

revision: str = "7c3e9b1d5a20"
down_revision: str | None = "6457f326b2e4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "vouchers",
        sa.Column("token", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
        sa.Column("psn_no", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("expires_at", shared.db.AwareDateTime(), nullable=False),
        sa.Column("revoked_at", shared.db.AwareDateTime(), nullable=True),
        sa.Column("issued_at", shared.db.AwareDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("token"),
    )
    with op.batch_alter_table("vouchers") as batch_op:
        batch_op.create_index(batch_op.f("ix_vouchers_psn_no"), ["psn_no"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("vouchers") as batch_op:
        batch_op.drop_index(batch_op.f("ix_vouchers_psn_no"))
    op.drop_table("vouchers")
