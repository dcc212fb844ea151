from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Date
from sqlmodel import Field

from gateway.db import Base
from shared.db import AwareDateTime, BigIntPK, utcnow


class DetailReconciliation(Base, table=True):
    """The outcome of one 3202 of an institution: how many records differed for the period. A clearing
    application (3203) for a month needs the latest 3202 covering it to have found none (docs/interface.md,
    "3203 / 3204 清算申请")."""

    __tablename__ = "detail_reconciliation"

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    fixmedins_code: str = Field(max_length=30, index=True)
    period_from: date = Field(sa_column=Column(Date(), nullable=False))
    period_to: date = Field(sa_column=Column(Date(), nullable=False))
    clr_type: str = Field(default="", max_length=6)
    differences: int
    msgid: str = Field(max_length=30)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(AwareDateTime(), nullable=False))
