from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column
from sqlmodel import Field

from fund_ledger.db import Base
from shared.db import AwareDateTime, BigIntPK, utcnow


class ClearingApplication(Base, table=True):
    """An institution's application (3203) to have a period cleared; revoked (3204) until a clearing batch
    takes it (docs/domain.md, "Clearing applications")."""

    __tablename__ = "clearing_applications"

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    clr_appy_evt_id: str = Field(max_length=30, unique=True)
    fixmedins_code: str = Field(max_length=30, index=True)
    admdvs: str = Field(max_length=6)
    insutype: str = Field(max_length=6)
    clr_type: str = Field(default="", max_length=6)
    period_from: date
    period_to: date
    #: applied, revoked, cleared.
    status: str = Field(default="applied", max_length=10)
    batch_id: str | None = Field(default=None, max_length=40)
    applied_at: datetime = Field(default_factory=utcnow, sa_column=Column(AwareDateTime(), nullable=False))
