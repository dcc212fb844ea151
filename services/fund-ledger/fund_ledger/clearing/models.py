"""Clearing batches: what the funds paid an institution for a period, and what they carried forward.

A batch is written once, in the same transaction as its journal entries, and never changed: running the
same ``batch_id`` again returns the stored row and posts nothing."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, CheckConstraint, Column, Index
from sqlmodel import Field

from fund_ledger.db import Base
from shared.db import AwareDateTime, BigIntPK, ExactDecimal, utcnow


class ClearingBatch(Base, table=True):
    __tablename__ = "clearing_batches"
    __table_args__ = (
        CheckConstraint("period_from <= period_to", name="ck_clearing_period"),
        CheckConstraint(
            "paid_fen >= 0 AND deposit_fen >= 0 AND carried_forward_fen >= 0", name="ck_clearing_amounts"
        ),
        Index(
            "ix_clearing_batches_key", "admdvs", "insutype", "fund_pay_type", "fixmedins_code", "period_from"
        ),
    )

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    batch_id: str = Field(max_length=40, unique=True)
    admdvs: str = Field(max_length=6)
    insutype: str = Field(max_length=6)
    fund_pay_type: str = Field(max_length=6)
    fixmedins_code: str = Field(max_length=30)
    period_from: date
    period_to: date
    #: Payable left on 2101 before the period (earlier carried-forward amounts, uncleared older claims).
    brought_forward_fen: int = Field(sa_type=BigInteger)
    #: Net payable booked for settlements and reversals dated in the period.
    period_owed_fen: int = Field(sa_type=BigInteger)
    #: brought_forward + period_owed: the 2101 payable balance the batch clears.
    owed_fen: int = Field(sa_type=BigInteger)
    deposit_ratio: Decimal = Field(sa_type=ExactDecimal(8, 6))
    #: Quality deposit withheld (Dr 2101 / Cr 2102): ratio x period_owed, half-up, at most owed.
    deposit_fen: int = Field(sa_type=BigInteger)
    #: Special-account (1002) balance when the batch ran.
    available_fen: int = Field(sa_type=BigInteger)
    #: Paid to the institution (1002 -> 1003 -> institution).
    paid_fen: int = Field(sa_type=BigInteger)
    #: Owed minus deposit minus paid: stays on 2101 for a later batch.
    carried_forward_fen: int = Field(sa_type=BigInteger)
    transfer_entry_id: int | None = Field(default=None, sa_type=BigIntPK, foreign_key="journal_entries.id")
    clearing_entry_id: int | None = Field(default=None, sa_type=BigIntPK, foreign_key="journal_entries.id")
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(AwareDateTime(), nullable=False))
