from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, DateTime, UniqueConstraint
from sqlmodel import Field

from enrollment.db import Base
from shared.db import BigIntPK, utcnow


class Person(Base, table=True):
    __tablename__ = "persons"

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    psn_no: str = Field(max_length=30, unique=True, index=True)
    #: 18-character resident ID number, validated against GB 11643; the identity key.
    certno: str = Field(max_length=18, unique=True, index=True)
    psn_cert_type: str = Field(default="01", max_length=6)
    psn_name: str = Field(max_length=50)
    gend: str = Field(max_length=1)
    brdy: date
    naty: str = Field(default="01", max_length=3)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )


class Enrollment(Base, table=True):
    """A person's enrollment for one insurance year (参保年度)."""

    __tablename__ = "enrollments"
    __table_args__ = (UniqueConstraint("psn_no", "year", "insutype", name="uq_enrollment_person_year"),)

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    psn_no: str = Field(max_length=30, index=True, foreign_key="persons.psn_no")
    year: int
    insutype: str = Field(default="390", max_length=6)
    psn_type: str = Field(max_length=6)
    insuplc_admdvs: str = Field(max_length=6)
    #: NHSA psn_insu_stas: 1 正常参保, 2 暂停参保, 4 终止参保.
    status: str = Field(default="1", max_length=3)
    coverage_begin: date
    coverage_end: date
    contribution_fen: int = Field(default=0, ge=0)
    receipt_no: str | None = Field(default=None, max_length=40)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )


class IdentityCategory(Base, table=True):
    """A subsidised identity (特困, 低保...) with its validity; drives medical assistance (1101 idetinfo)."""

    __tablename__ = "identity_categories"

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    psn_no: str = Field(max_length=30, index=True, foreign_key="persons.psn_no")
    psn_idet_type: str = Field(max_length=6)
    begin_date: date
    end_date: date | None = None
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
