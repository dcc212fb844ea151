"""encounter_messages: the answer of each state-changing encounter call by (institution, msgid, operation)

A repeat of 2201-2205, 2301/2302 or 2401-2405 after its answer was lost (the gateway timed out after this
service committed) is answered with the first answer instead of acting again (issue 22).

Revision ID: a7e3c5d9f0b1
Revises: a7e3c9d2b1f4
Create Date: 2026-12-05 14:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "a7e3c5d9f0b1"
down_revision: str | None = "a7e3c9d2b1f4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "encounter_messages",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("fixmedins_code", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("msgid", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("operation", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("request_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("response", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("fixmedins_code", "msgid", "operation", name="uq_encounter_message"),
    )


def downgrade() -> None:
    op.drop_table("encounter_messages")
