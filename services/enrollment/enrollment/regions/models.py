from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field

from enrollment.db import Base
from shared.db import BigIntPK, timestamp_field


class Region(Base, table=True):
    """A pooling region (统筹区) and its enrollment rules."""

    __tablename__ = "regions"

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    admdvs: str = Field(max_length=6, unique=True, index=True)
    name: str = Field(max_length=100)
    #: Collection period for year Y, as month/day in Y-1 (default 1 Sep to 31 Dec; Tianjin art. 12, 17).
    collection_begin_month: int = 9
    collection_begin_day: int = 1
    collection_end_month: int = 12
    collection_end_day: int = 31
    #: Late payment (补缴) for year Y allowed until this month/day of Y; None = not allowed.
    late_until_month: int | None = None
    late_until_day: int | None = None
    #: Cover after a late payment starts this many days after the payment date (等待期).
    late_waiting_days: int = 0
    #: A newborn registered within this many days of birth is covered from birth.
    newborn_grace_days: int = 90
    #: Government subsidy split by level, as integer parts (e.g. 10:3:2:5).
    subsidy_central: int = 0
    subsidy_provincial: int = 0
    subsidy_city: int = 0
    subsidy_county: int = 1
    created_at: datetime = timestamp_field()


class RegionTarget(Base, table=True):
    """The population that should be covered (应参保人数), entered per region and year."""

    __tablename__ = "region_targets"
    __table_args__ = (UniqueConstraint("admdvs", "year", name="uq_region_target"),)

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    admdvs: str = Field(max_length=6, index=True)
    year: int
    population: int = Field(gt=0)


class ContributionStandard(Base, table=True):
    """Yearly contribution (个人缴费) and government subsidy per enrollee, per region, year and category."""

    __tablename__ = "contribution_standards"
    __table_args__ = (UniqueConstraint("admdvs", "year", "category", "tier", name="uq_standard"),)

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    admdvs: str = Field(max_length=6, index=True)
    year: int
    #: "minor" (children and students: one fixed standard) or "adult" (tiers an adult may choose).
    category: str = Field(max_length=10)
    tier: str = Field(default="1", max_length=10)
    personal_fen: int = Field(ge=0)
    subsidy_fen: int = Field(ge=0)
