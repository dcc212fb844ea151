from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Column, DateTime, UniqueConstraint
from sqlmodel import Field

from settlement.db import Base
from shared.db import BigIntPK, ExactDecimal, utcnow


class BenefitPolicy(Base, table=True):
    """Benefit parameters of one region and scheme for a period. Every settlement records the policy it used.

    The spine carries the outpatient-pooling parameters that pharmacy purchases (med_type 41) settle under;
    the benefit policy issue extends this with inpatient, chronic, maternity, catastrophic and assistance."""

    __tablename__ = "benefit_policies"
    __table_args__ = (
        UniqueConstraint("admdvs", "insutype", "effective_from", name="uq_policy_region_start"),
    )

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    admdvs: str = Field(max_length=6, index=True)
    insutype: str = Field(max_length=6)
    name: str = Field(max_length=200)
    effective_from: date
    effective_to: date | None = None
    #: Outpatient pooling (门诊统筹): yearly deductible, fund ratio on the policy-range amount, yearly cap.
    outpatient_deductible_fen: int = Field(ge=0)
    outpatient_pool_ratio: Decimal = Field(sa_type=ExactDecimal(5, 4))
    outpatient_annual_cap_fen: int = Field(ge=0)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
