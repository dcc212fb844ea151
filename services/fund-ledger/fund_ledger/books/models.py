"""The books' tables: accounts, journal entries with their postings, and the head of the hash chain.

What the database itself guarantees (triggers created by the migrations, not by ``create_all``):

Both backends
    * ``journal_entries`` and ``postings`` are append-only: a trigger refuses every UPDATE and DELETE
      ("journal entries are append-only" / "postings are append-only"); on PostgreSQL TRUNCATE too.
      Corrections are new entries.
    * Each posting has one positive side (CHECK constraints); an entry declares ``total_fen`` > 0 and
      ``posting_count`` >= 2 (CHECK constraints).

PostgreSQL
    * A deferred constraint trigger (``DEFERRABLE INITIALLY DEFERRED``) on ``postings`` and on
      ``journal_entries`` checks, at COMMIT, every entry a transaction touched: it has at least two postings,
      exactly ``posting_count`` of them, and its debits and its credits both equal ``total_fen``. A
      transaction that would leave an unbalanced, one-legged, padded or short entry fails at COMMIT, however
      the rows were written.

SQLite (no deferred constraint triggers)
    * A BEFORE INSERT trigger on ``postings`` refuses a posting that would push its entry's debits or credits
      above the entry's declared ``total_fen``, or its number of postings above ``posting_count``. So no
      entry can be padded or tipped out of balance by extra rows, whoever writes them.
    * What SQLite cannot enforce at commit: an entry whose postings are still SHORT of its declared totals
      (fewer rows written than declared). The application never does this (``post_entry`` checks and writes
      the whole entry in one transaction) and ``verify_chain`` reports such an entry (declared totals and
      count against the stored postings, and the hash over them).

On both, the hash chain (``fund_ledger.books.chain``) makes any change that bypasses the triggers (by
disabling or dropping them) detectable by ``verify_chain``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Column, UniqueConstraint
from sqlmodel import Field

from fund_ledger.db import Base
from shared.db import AwareDateTime, BigIntPK, utcnow


class Account(Base, table=True):
    """A ledger account: a chart-of-accounts code kept per pooling region, scheme sub-ledger and fund, and
    for payables per counterparty institution."""

    __tablename__ = "accounts"
    __table_args__ = (
        UniqueConstraint(
            "code", "admdvs", "insutype", "fund_pay_type", "counterparty", name="uq_account_key"
        ),
    )

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    code: str = Field(max_length=20)
    name: str = Field(max_length=200)
    #: asset, liability, income, expense, equity.
    kind: str = Field(max_length=12)
    admdvs: str = Field(max_length=6)
    insutype: str = Field(max_length=6)
    fund_pay_type: str = Field(max_length=6)
    #: Institution code for per-institution payables; "" when the account has no counterparty.
    counterparty: str = Field(default="", max_length=30)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(AwareDateTime(), nullable=False))


class JournalEntry(Base, table=True):
    """A balanced journal entry. Append-only: never updated or deleted; corrections are new entries.

    Entries form a hash chain in posting order (``seq`` 1, 2, 3... without gaps): ``entry_hash`` is the
    SHA-256 over ``prev_hash`` and the entry's canonical content (see ``fund_ledger.books.chain``)."""

    __tablename__ = "journal_entries"
    __table_args__ = (
        UniqueConstraint("source_type", "source_id", name="uq_entry_source"),
        UniqueConstraint("seq", name="uq_entry_seq"),
        UniqueConstraint("entry_hash", name="uq_entry_hash"),
        CheckConstraint("total_fen > 0", name="ck_entry_total_positive"),
        CheckConstraint("posting_count >= 2", name="ck_entry_two_postings"),
    )

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    #: Position in the hash chain: 1 for the first entry, then +1 per entry, no gaps.
    seq: int = Field(sa_type=BigIntPK)
    #: The event this entry was posted from (one entry per event at most).
    event_id: str | None = Field(default=None, max_length=36, unique=True)
    #: The request id of the request that produced that event (its ``trace_id``): joins the entry to the
    #: gateway's and the service's trail lines. Not in the hash chain (it says where the entry came from).
    trace_id: str | None = Field(default=None, max_length=64, index=True)
    source_type: str = Field(max_length=40)
    source_id: str = Field(max_length=40, index=True)
    description: str = Field(max_length=500)
    admdvs: str = Field(max_length=6)
    insutype: str = Field(max_length=6)
    #: Debits = credits = total_fen, declared by the code and held against the postings by the database.
    total_fen: int = Field(gt=0, sa_type=BigInteger)
    #: How many postings the entry has (declared by the code, held against the postings by the database).
    posting_count: int = Field(ge=2)
    #: Business time of the entry, derived from its event (setl_time of a settlement, occurred_at of an
    #: enrollment event), never the wall clock at insert: replaying the same events gives the same hashes.
    posted_at: datetime = Field(default_factory=utcnow, sa_column=Column(AwareDateTime(), nullable=False))
    #: ``entry_hash`` of the previous entry in the chain (64 zeros for the first).
    prev_hash: str = Field(min_length=64, max_length=64)
    entry_hash: str = Field(min_length=64, max_length=64)


class ChainHead(Base, table=True):
    """The single row that points at the last entry of the hash chain. Appending an entry locks it (SELECT
    ... FOR UPDATE on PostgreSQL; SQLite serialises writers with BEGIN IMMEDIATE), so entries are chained
    one at a time in commit order."""

    __tablename__ = "ledger_chain_head"
    __table_args__ = (CheckConstraint("id = 1", name="ck_chain_head_single_row"),)

    id: int = Field(default=1, primary_key=True, sa_column_kwargs={"autoincrement": False})
    #: ``seq`` of the last entry (0 before the first).
    seq: int = Field(default=0, sa_type=BigIntPK)
    entry_hash: str = Field(max_length=64)


class Posting(Base, table=True):
    __tablename__ = "postings"
    __table_args__ = (
        CheckConstraint("debit_fen >= 0 AND credit_fen >= 0", name="ck_posting_non_negative"),
        CheckConstraint("(debit_fen = 0) <> (credit_fen = 0)", name="ck_posting_one_side"),
    )

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    entry_id: int = Field(sa_type=BigIntPK, foreign_key="journal_entries.id", index=True)
    account_id: int = Field(sa_type=BigIntPK, foreign_key="accounts.id", index=True)
    #: 64-bit: one entry can move a county's whole collection (hundreds of millions of yuan) at once.
    debit_fen: int = Field(default=0, sa_type=BigInteger)
    credit_fen: int = Field(default=0, sa_type=BigInteger)


class AccountBalance(Base, table=True):
    """Running totals of an account's postings, kept by the journal writer in the same transaction as the
    postings (one update per account per consumer batch). Derived data: ``balance_drift`` in
    ``fund_ledger.books.service`` compares it with the postings, and the balances as of a past date are
    always summed from the postings."""

    __tablename__ = "account_balances"
    __table_args__ = (CheckConstraint("debit_fen >= 0 AND credit_fen >= 0", name="ck_balance_non_negative"),)

    account_id: int = Field(
        sa_type=BigIntPK,
        foreign_key="accounts.id",
        primary_key=True,
        sa_column_kwargs={"autoincrement": False},
    )
    debit_fen: int = Field(default=0, sa_type=BigInteger)
    credit_fen: int = Field(default=0, sa_type=BigInteger)
    posting_count: int = Field(default=0, sa_type=BigInteger)
