"""journal entry trace id

The request id of the request that produced the event an entry was posted from (the event's ``trace_id``):
it joins the entry to the gateway's and the settlement service's trail lines (issue 28). Nullable (entries
posted from no request, and every entry before this revision, have none) and outside the hash chain: it
says where the entry came from, not what it books.

Added with a plain ALTER TABLE ... ADD COLUMN on both backends: a batch (copy-and-move) alter on SQLite
would recreate the append-only table without its triggers.

Revision ID: b7e3c91d2f40
Revises: 5e1c0a7d9b21
Create Date: 2026-12-06 02:10:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = 'b7e3c91d2f40'
down_revision: str | None = '5e1c0a7d9b21'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('journal_entries', sa.Column('trace_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
    op.create_index(op.f('ix_journal_entries_trace_id'), 'journal_entries', ['trace_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_journal_entries_trace_id'), table_name='journal_entries')
    op.drop_column('journal_entries', 'trace_id')
