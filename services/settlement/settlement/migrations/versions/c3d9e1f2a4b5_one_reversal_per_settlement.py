"""settlements: one reversal per settlement, as a unique index on reversal_of

Two 2601s (or a 2601 and a 2103) of the same settlement at the same moment each wrote a reversal on
PostgreSQL (issue 21): the second read the original's status from the session's identity map instead of
the row it had just locked. The service now reads the locked row as committed; the index makes a second
reversal of one settlement impossible whatever the code does (NULLs, the settlements that are not
reversals, do not collide).

Revision ID: c3d9e1f2a4b5
Revises: 5c1f0e7a9b3d
Create Date: 2026-12-05 09:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "c3d9e1f2a4b5"
down_revision: str | None = "5c1f0e7a9b3d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("settlements", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_settlements_reversal_of"), ["reversal_of"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("settlements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_settlements_reversal_of"))
