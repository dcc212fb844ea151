"""hash chain and database guards

Journal entries get their place in the hash chain (seq, prev_hash, entry_hash) and their declared posting
count; existing entries are chained in id order (their posted_at stays what it was). The single-row chain
head is created and pointed at the last entry. Then the database guards (see fund_ledger.books.models for
what each backend guarantees): append-only triggers on journal_entries and postings on both backends; a
deferred balance constraint trigger on PostgreSQL; a posting-within-declared-totals trigger on SQLite.

Revision ID: 9ed91045439c
Revises: bca1d4891300
Create Date: 2026-11-23 04:33:48.706331
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import shared.db
from fund_ledger.books.chain import GENESIS_HASH, compute_entry_hash

revision: str = '9ed91045439c'
down_revision: str | None = 'bca1d4891300'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY_MESSAGE = "%s are append-only: %s refused (post a correcting entry instead)"

SQLITE_TRIGGERS = [
    *(
        f"""CREATE TRIGGER trg_{table}_no_{op_name.lower()} BEFORE {op_name} ON {table}
BEGIN
    SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE % (table, op_name)}');
END"""
        for table in ("journal_entries", "postings")
        for op_name in ("UPDATE", "DELETE")
    ),
    """CREATE TRIGGER trg_postings_within_entry_totals BEFORE INSERT ON postings
WHEN (SELECT COALESCE(SUM(debit_fen), 0) FROM postings WHERE entry_id = NEW.entry_id) + NEW.debit_fen
        > (SELECT total_fen FROM journal_entries WHERE id = NEW.entry_id)
    OR (SELECT COALESCE(SUM(credit_fen), 0) FROM postings WHERE entry_id = NEW.entry_id) + NEW.credit_fen
        > (SELECT total_fen FROM journal_entries WHERE id = NEW.entry_id)
    OR (SELECT COUNT(*) FROM postings WHERE entry_id = NEW.entry_id) + 1
        > (SELECT posting_count FROM journal_entries WHERE id = NEW.entry_id)
BEGIN
    SELECT RAISE(ABORT, 'posting exceeds its journal entry''s declared total_fen or posting_count: an unbalanced or padded entry is refused');
END""",
]
SQLITE_TRIGGER_NAMES = [
    "trg_journal_entries_no_update",
    "trg_journal_entries_no_delete",
    "trg_postings_no_update",
    "trg_postings_no_delete",
    "trg_postings_within_entry_totals",
]

POSTGRES_DDL = [
    f"""CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '{APPEND_ONLY_MESSAGE % ("%", "%")}', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END
$$""",
    """CREATE FUNCTION ledger_check_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_entry bigint;
    v_total bigint;
    v_count integer;
    v_debits bigint;
    v_credits bigint;
    v_postings integer;
BEGIN
    IF TG_TABLE_NAME = 'postings' THEN
        v_entry := NEW.entry_id;
    ELSE
        v_entry := NEW.id;
    END IF;
    SELECT total_fen, posting_count INTO v_total, v_count FROM journal_entries WHERE id = v_entry;
    IF NOT FOUND THEN
        RETURN NULL;  -- the foreign key refuses a posting without its entry
    END IF;
    SELECT COALESCE(SUM(debit_fen), 0), COALESCE(SUM(credit_fen), 0), COUNT(*)
        INTO v_debits, v_credits, v_postings FROM postings WHERE entry_id = v_entry;
    IF v_postings < 2 OR v_postings <> v_count OR v_debits <> v_credits OR v_debits <> v_total THEN
        RAISE EXCEPTION 'journal entry % is not balanced at commit: % postings (declared %), debits % fen, '
            'credits % fen (declared total %)', v_entry, v_postings, v_count, v_debits, v_credits, v_total
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
END
$$""",
    *(
        f"""CREATE TRIGGER trg_{table}_append_only BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()"""
        for table in ("journal_entries", "postings")
    ),
    *(
        f"""CREATE TRIGGER trg_{table}_no_truncate BEFORE TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change()"""
        for table in ("journal_entries", "postings")
    ),
    *(
        f"""CREATE CONSTRAINT TRIGGER trg_{table}_balanced AFTER INSERT ON {table}
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_entry_balanced()"""
        for table in ("journal_entries", "postings")
    ),
]
POSTGRES_DROP = [
    *(
        f"DROP TRIGGER IF EXISTS trg_{table}_{suffix} ON {table}"
        for table in ("journal_entries", "postings")
        for suffix in ("append_only", "no_truncate", "balanced")
    ),
    "DROP FUNCTION IF EXISTS ledger_check_entry_balanced()",
    "DROP FUNCTION IF EXISTS ledger_refuse_change()",
]


def _backfill_chain() -> None:
    """Chain the entries written before this revision, in id order."""
    bind = op.get_bind()
    entries = sa.table(
        'journal_entries',
        sa.column('id', sa.BigInteger()),
        sa.column('event_id', sa.String()),
        sa.column('source_type', sa.String()),
        sa.column('source_id', sa.String()),
        sa.column('description', sa.String()),
        sa.column('admdvs', sa.String()),
        sa.column('insutype', sa.String()),
        sa.column('total_fen', sa.Integer()),
        sa.column('posted_at', shared.db.AwareDateTime()),
        sa.column('seq', sa.BigInteger()),
        sa.column('posting_count', sa.Integer()),
        sa.column('prev_hash', sa.String()),
        sa.column('entry_hash', sa.String()),
    )
    postings = sa.table(
        'postings',
        sa.column('entry_id', sa.BigInteger()),
        sa.column('account_id', sa.BigInteger()),
        sa.column('debit_fen', sa.Integer()),
        sa.column('credit_fen', sa.Integer()),
    )
    accounts = sa.table(
        'accounts',
        sa.column('id', sa.BigInteger()),
        sa.column('code', sa.String()),
        sa.column('admdvs', sa.String()),
        sa.column('insutype', sa.String()),
        sa.column('fund_pay_type', sa.String()),
        sa.column('counterparty', sa.String()),
    )
    legs: dict[int, list[tuple[str, str, str, str, str, int, int]]] = {}
    for row in bind.execute(
        sa.select(
            postings.c.entry_id,
            accounts.c.code,
            accounts.c.admdvs,
            accounts.c.insutype,
            accounts.c.fund_pay_type,
            accounts.c.counterparty,
            postings.c.debit_fen,
            postings.c.credit_fen,
        ).join(accounts, accounts.c.id == postings.c.account_id)
    ):
        legs.setdefault(row[0], []).append(tuple(row[1:]))  # type: ignore[arg-type]
    seq, prev_hash = 0, GENESIS_HASH
    for entry in bind.execute(sa.select(entries).order_by(entries.c.id)).all():
        seq += 1
        entry_legs = legs.get(entry.id, [])
        entry_hash = compute_entry_hash(
            prev_hash,
            seq=seq,
            event_id=entry.event_id,
            source_type=entry.source_type,
            source_id=entry.source_id,
            description=entry.description,
            admdvs=entry.admdvs,
            insutype=entry.insutype,
            total_fen=entry.total_fen,
            posting_count=len(entry_legs),
            posted_at=entry.posted_at,
            postings=entry_legs,
        )
        bind.execute(
            entries.update()
            .where(entries.c.id == entry.id)
            .values(seq=seq, posting_count=len(entry_legs), prev_hash=prev_hash, entry_hash=entry_hash)
        )
        prev_hash = entry_hash
    head = sa.table(
        'ledger_chain_head', sa.column('id', sa.Integer()), sa.column('seq', sa.BigInteger()),
        sa.column('entry_hash', sa.String()),
    )
    bind.execute(head.insert().values(id=1, seq=seq, entry_hash=prev_hash))


def upgrade() -> None:
    op.create_table('ledger_chain_head',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('entry_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.CheckConstraint('id = 1', name='ck_chain_head_single_row'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('journal_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.add_column(sa.Column('posting_count', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('prev_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column('entry_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))

    _backfill_chain()

    with op.batch_alter_table('journal_entries', schema=None) as batch_op:
        batch_op.alter_column('seq', existing_type=sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                              nullable=False)
        batch_op.alter_column('posting_count', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('prev_hash', existing_type=sqlmodel.sql.sqltypes.AutoString(length=64),
                              nullable=False)
        batch_op.alter_column('entry_hash', existing_type=sqlmodel.sql.sqltypes.AutoString(length=64),
                              nullable=False)
        batch_op.create_unique_constraint('uq_entry_hash', ['entry_hash'])
        batch_op.create_unique_constraint('uq_entry_seq', ['seq'])
        batch_op.create_check_constraint('ck_entry_total_positive', 'total_fen > 0')
        batch_op.create_check_constraint('ck_entry_two_postings', 'posting_count >= 2')

    statements = SQLITE_TRIGGERS if op.get_bind().dialect.name == 'sqlite' else POSTGRES_DDL
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        for name in SQLITE_TRIGGER_NAMES:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    else:
        for statement in POSTGRES_DROP:
            op.execute(statement)
    with op.batch_alter_table('journal_entries', schema=None) as batch_op:
        batch_op.drop_constraint('ck_entry_two_postings', type_='check')
        batch_op.drop_constraint('ck_entry_total_positive', type_='check')
        batch_op.drop_constraint('uq_entry_seq', type_='unique')
        batch_op.drop_constraint('uq_entry_hash', type_='unique')
        batch_op.drop_column('entry_hash')
        batch_op.drop_column('prev_hash')
        batch_op.drop_column('posting_count')
        batch_op.drop_column('seq')

    op.drop_table('ledger_chain_head')
