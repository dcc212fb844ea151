"""account balances kept by the journal; 64-bit amounts in the books

The journal writer keeps a running total per account (``account_balances``), updated once per account per
consumer batch in the same transaction as the postings; it starts from the postings already in the books.
Entry totals and posting amounts become 64-bit on PostgreSQL (a sweep can move a county's whole collection,
beyond the 21,474,836.47 yuan a 32-bit integer holds); SQLite integers are 64-bit already (and altering a
column there would mean recreating the append-only tables and their triggers).

Revision ID: 73991aa17c3f
Revises: a33c53670a8c
Create Date: 2026-11-23 05:40:57.497176
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '73991aa17c3f'
down_revision: str | None = 'a33c53670a8c'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('account_balances',
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('debit_fen', sa.BigInteger(), nullable=False),
    sa.Column('credit_fen', sa.BigInteger(), nullable=False),
    sa.Column('posting_count', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('debit_fen >= 0 AND credit_fen >= 0', name='ck_balance_non_negative'),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.PrimaryKeyConstraint('account_id')
    )
    op.execute(
        "INSERT INTO account_balances (account_id, debit_fen, credit_fen, posting_count) "
        "SELECT account_id, SUM(debit_fen), SUM(credit_fen), COUNT(*) FROM postings GROUP BY account_id"
    )
    if op.get_bind().dialect.name == 'postgresql':
        op.alter_column('journal_entries', 'total_fen', type_=sa.BigInteger(), existing_nullable=False)
        op.alter_column('postings', 'debit_fen', type_=sa.BigInteger(), existing_nullable=False)
        op.alter_column('postings', 'credit_fen', type_=sa.BigInteger(), existing_nullable=False)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.alter_column('postings', 'credit_fen', type_=sa.Integer(), existing_nullable=False)
        op.alter_column('postings', 'debit_fen', type_=sa.Integer(), existing_nullable=False)
        op.alter_column('journal_entries', 'total_fen', type_=sa.Integer(), existing_nullable=False)
    op.drop_table('account_balances')
