"""fee lines: settled in place (HOT updates): no index on setl_id, pages half free on PostgreSQL

Settling a stay marks its lines (``UPDATE fee_lines SET setl_id = ...``, 100-200 rows). With ``setl_id``
indexed and pages full, every marked line was a new tuple on another page plus an entry in each of the
table's four indexes: the most expensive statement of a 2304 (bench/results/performance-log.md, stop 17). Without the
index, and with room on each page (fillfactor 50), the mark is a heap-only update on the same page and no
index is touched. The one query by ``setl_id`` (a reversal re-opening the lines) also names the stay.

Revision ID: 5c1f0e7a9b3d
Revises: 2aba2d54c1fb
Create Date: 2026-12-03 17:40:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '5c1f0e7a9b3d'
down_revision: str | None = '2aba2d54c1fb'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('fee_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fee_lines_setl_id'))
    if op.get_bind().dialect.name == 'postgresql':
        # Pages written from now on keep half their room for the lines' new versions.
        op.execute('ALTER TABLE fee_lines SET (fillfactor = 50)')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE fee_lines RESET (fillfactor)')
    with op.batch_alter_table('fee_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fee_lines_setl_id'), ['setl_id'], unique=False)
