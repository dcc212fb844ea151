"""voucher_revocations: the e-voucher tokens enrollment revoked (enrollment.voucher_revoked), by digest

Revision ID: b5e1c9a7d304
Revises: 8a93d6d055a9
Create Date: 2026-12-06 05:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

import shared.db
from alembic import op

revision: str = "b5e1c9a7d304"
down_revision: str | None = "8a93d6d055a9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "voucher_revocations",
        sa.Column("voucher_digest", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("psn_no", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("revoked_at", shared.db.AwareDateTime(), nullable=False),
        sa.Column("expires_at", shared.db.AwareDateTime(), nullable=False),
        sa.Column("recorded_at", shared.db.AwareDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("voucher_digest"),
    )


def downgrade() -> None:
    op.drop_table("voucher_revocations")
