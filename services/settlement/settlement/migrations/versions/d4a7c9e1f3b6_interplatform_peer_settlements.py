"""interplatform_peer_settlements: the treating side's settlements for persons insured on a peer platform;
interplatform_reservations: where the care was (for the confirmation's event)

Revision ID: d4a7c9e1f3b6
Revises: d2f6a8c0e4b7
Create Date: 2026-12-06 14:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import shared.db

revision: str = "d4a7c9e1f3b6"
down_revision: str | None = "d2f6a8c0e4b7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString
    op.create_table(
        "interplatform_peer_settlements",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("setl_id", text(length=30), nullable=False),
        sa.Column("peer", text(length=30), nullable=False),
        sa.Column("msgid", text(length=40), nullable=False),
        sa.Column("reservation_id", text(length=40), nullable=False),
        sa.Column("status", text(length=10), nullable=False),
        sa.Column("expires_at", shared.db.AwareDateTime(), nullable=False),
        sa.Column("reversal_setl_id", text(length=30), nullable=True),
        sa.Column("psn_name", text(length=50), nullable=False),
        sa.Column("certno", text(length=30), nullable=False),
        sa.Column("gend", text(length=3), nullable=False),
        sa.Column("brdy", sa.Date(), nullable=False),
        sa.Column("naty", text(length=3), nullable=False),
        sa.Column("created_at", shared.db.AwareDateTime(), nullable=False),
        sa.Column("updated_at", shared.db.AwareDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("setl_id"),
    )
    op.create_index(
        "ix_interplatform_peer_settlements_status", "interplatform_peer_settlements", ["status"], unique=False
    )
    with op.batch_alter_table("interplatform_reservations") as batch_op:
        batch_op.add_column(sa.Column("fixmedins_code", text(length=30), nullable=True))
        batch_op.add_column(sa.Column("hosp_lv", text(length=3), nullable=True))
        batch_op.add_column(sa.Column("mdtrtarea_admvs", text(length=6), nullable=True))
        batch_op.add_column(sa.Column("med_type", text(length=6), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("interplatform_reservations") as batch_op:
        for column in ("med_type", "mdtrtarea_admvs", "hosp_lv", "fixmedins_code"):
            batch_op.drop_column(column)
    op.drop_index("ix_interplatform_peer_settlements_status", table_name="interplatform_peer_settlements")
    op.drop_table("interplatform_peer_settlements")
