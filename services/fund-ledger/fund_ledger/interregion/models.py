"""Monthly inter-region clearing of out-of-area care (异地就医; docs/architecture.md, "Out-of-area care"):
what one insured region owed one treating region for a month's care, for one scheme and fund, and what
was paid. Written once with its journal entries and never changed."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Column, UniqueConstraint
from sqlmodel import Field

from fund_ledger.db import Base
from shared.db import AwareDateTime, BigIntPK, utcnow


class InterRegionClearing(Base, table=True):
    __tablename__ = "inter_region_clearings"
    __table_args__ = (
        UniqueConstraint(
            "month",
            "insured_admdvs",
            "treating_admdvs",
            "insutype",
            "fund_pay_type",
            name="uq_inter_region_month",
        ),
    )

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    #: IRC-yyyymm-insured-treating-insutype-fund: the source id of its two entries.
    clearing_id: str = Field(max_length=40, unique=True)
    #: The month's first day.
    month: date
    #: The region whose insured were treated (it owes) and the region that treated them (it is owed).
    insured_admdvs: str = Field(max_length=6)
    treating_admdvs: str = Field(max_length=6)
    insutype: str = Field(max_length=6)
    fund_pay_type: str = Field(max_length=6)
    #: Owed before the month (earlier months' unpaid rest): 2105 due to the treating region.
    brought_forward_fen: int = Field(sa_type=BigInteger)
    #: The month's out-of-area settlements less reversals, in the insured region's books (2105).
    period_owed_fen: int = Field(sa_type=BigInteger)
    #: The same in the treating region's books (1302): the reconciliation compares the two.
    treating_period_fen: int = Field(sa_type=BigInteger)
    #: cleared, mismatch (the two books disagree: nothing paid), nothing_owed.
    status: str = Field(max_length=12)
    owed_fen: int = Field(sa_type=BigInteger)
    #: The insured region's special account (1002) balance when the clearing ran.
    available_fen: int = Field(sa_type=BigInteger)
    paid_fen: int = Field(sa_type=BigInteger)
    carried_forward_fen: int = Field(sa_type=BigInteger)
    insured_entry_id: int | None = Field(default=None, sa_type=BigInteger)
    treating_entry_id: int | None = Field(default=None, sa_type=BigInteger)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(AwareDateTime(), nullable=False))
