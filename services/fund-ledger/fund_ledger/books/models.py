from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Column, UniqueConstraint
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
    """A balanced journal entry. Append-only: never updated or deleted; corrections are new entries."""

    __tablename__ = "journal_entries"
    __table_args__ = (UniqueConstraint("source_type", "source_id", name="uq_entry_source"),)

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    #: The event this entry was posted from (one entry per event at most).
    event_id: str | None = Field(default=None, max_length=36, unique=True)
    source_type: str = Field(max_length=40)
    source_id: str = Field(max_length=40, index=True)
    description: str = Field(max_length=500)
    admdvs: str = Field(max_length=6)
    insutype: str = Field(max_length=6)
    total_fen: int = Field(gt=0)
    posted_at: datetime = Field(default_factory=utcnow, sa_column=Column(AwareDateTime(), nullable=False))


class Posting(Base, table=True):
    __tablename__ = "postings"
    __table_args__ = (
        CheckConstraint("debit_fen >= 0 AND credit_fen >= 0", name="ck_posting_non_negative"),
        CheckConstraint("(debit_fen = 0) <> (credit_fen = 0)", name="ck_posting_one_side"),
    )

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    entry_id: int = Field(sa_type=BigIntPK, foreign_key="journal_entries.id", index=True)
    account_id: int = Field(sa_type=BigIntPK, foreign_key="accounts.id", index=True)
    debit_fen: int = 0
    credit_fen: int = 0
