from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, UniqueConstraint
from sqlmodel import Field

from settlement.db import Base, ReferenceData
from shared.db import AwareDateTime, BigIntPK, utcnow


class BenefitPolicy(ReferenceData, Base, table=True):
    """Benefit parameters of one region and scheme for a period. Every settlement records the policy it used.

    A policy covers one region and scheme (390; 391 and 380 while the legacy schemes run side by side) for
    an effective period that may not overlap another's."""

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
    #: Every parameter, as a validated PolicyDocument (settlement.policy.document). Immutable: a change is
    #: a new policy with its own effective period.
    document: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    #: The catalogue version (settlement.versions) the policy was added at: its chronic disease list is
    #: a change of the 1309 download at that version.
    list_ver: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, index=True, default=0))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(AwareDateTime(), nullable=False))
