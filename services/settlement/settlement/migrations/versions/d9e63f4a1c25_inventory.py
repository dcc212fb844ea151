"""inventory: pharmacy batches, their movements and traceability codes (3501-3507)

Revision ID: d9e63f4a1c25
Revises: c8d52e3f0b14
Create Date: 2026-12-06 02:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

import shared.db
from alembic import op

revision: str = "d9e63f4a1c25"
down_revision: str | None = "c8d52e3f0b14"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _text(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "inventory_batches",
        sa.Column("id", _ID, nullable=False),
        sa.Column("fixmedins_code", _text(30), nullable=False),
        sa.Column("fixmedins_bchno", _text(30), nullable=False),
        sa.Column("med_list_codg", _text(50), nullable=False),
        sa.Column("fixmedins_hilist_id", _text(30), nullable=False),
        sa.Column("fixmedins_hilist_name", _text(200), nullable=False),
        sa.Column("manu_lotnum", _text(30), nullable=True),
        sa.Column("manu_date", sa.Date(), nullable=True),
        sa.Column("expy_end", sa.Date(), nullable=True),
        sa.Column("on_hand", shared.db.ExactDecimal(precision=16, scale=4), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("fixmedins_code", "fixmedins_bchno", name="uq_inventory_batch"),
    )
    op.create_table(
        "inventory_movements",
        sa.Column("id", _ID, nullable=False),
        sa.Column("fixmedins_code", _text(30), nullable=False),
        sa.Column("fixmedins_bchno", _text(30), nullable=False),
        sa.Column("operation", _text(16), nullable=False),
        sa.Column("delta", shared.db.ExactDecimal(precision=16, scale=4), nullable=False),
        sa.Column("setl_id", _text(30), nullable=True),
        sa.Column("psn_no", _text(30), nullable=True),
        sa.Column("codes", sa.JSON(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_inventory_movements_fixmedins_code", "inventory_movements", ["fixmedins_code"], unique=False
    )
    op.create_table(
        "trace_codes",
        sa.Column("id", _ID, nullable=False),
        sa.Column("fixmedins_code", _text(30), nullable=False),
        sa.Column("drug_trac_codg", _text(100), nullable=False),
        sa.Column("med_list_codg", _text(50), nullable=False),
        sa.Column("fixmedins_bchno", _text(30), nullable=False),
        sa.Column("status", _text(10), nullable=False),
        sa.Column("setl_id", _text(30), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("fixmedins_code", "drug_trac_codg", name="uq_trace_code"),
    )


def downgrade() -> None:
    op.drop_table("trace_codes")
    op.drop_index("ix_inventory_movements_fixmedins_code", table_name="inventory_movements")
    op.drop_table("inventory_movements")
    op.drop_table("inventory_batches")
