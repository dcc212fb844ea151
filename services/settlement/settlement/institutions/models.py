from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, UniqueConstraint
from sqlmodel import Field

from settlement.db import Base, ReferenceData
from shared.db import AwareDateTime, BigIntPK, utcnow


class Institution(ReferenceData, Base, table=True):
    """A designated medical institution or retail pharmacy (定点医药机构) under agreement."""

    __tablename__ = "institutions"

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    fixmedins_code: str = Field(max_length=30, unique=True, index=True)
    fixmedins_name: str = Field(max_length=200)
    #: fixmedins_type: 1 定点医疗机构, 2 定点零售药店.
    fixmedins_type: str = Field(max_length=3)
    #: Hospital level for deductibles and ratios: 1 一级 (primary), 2 二级, 3 三级; pharmacies "9".
    hosp_lv: str = Field(max_length=3)
    admdvs: str = Field(max_length=6, index=True)
    #: Agreement status: active, suspended, terminated. Only active institutions settle.
    status: str = Field(default="active", max_length=12)
    agreement_begin: date
    agreement_end: date | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(AwareDateTime(), nullable=False))


class LegacyListing(Base, table=True):
    """An institution as a legacy scheme listed it (URBMI 391 / NCMS 380), with that system's own code.
    Both lists are admitted first and unified later (先纳入、后统一): each listing points at the one
    registry entry it was admitted as."""

    __tablename__ = "legacy_institution_listings"
    __table_args__ = (UniqueConstraint("insutype", "legacy_code", name="uq_legacy_listing"),)

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    insutype: str = Field(max_length=6)
    legacy_code: str = Field(max_length=30)
    fixmedins_code: str = Field(max_length=30, index=True)
    fixmedins_name: str = Field(max_length=200)
    hosp_lv: str = Field(max_length=3)
    agreement_begin: date
    agreement_end: date | None = None
    admitted_at: datetime = Field(default_factory=utcnow, sa_column=Column(AwareDateTime(), nullable=False))
