from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field

from enrollment.db import Base
from shared.db import BigIntPK, timestamp_field


class Enrollment(Base, table=True):
    """A person's enrollment for one insurance year (参保年度).

    pending (registered, contribution not fully paid) -> active (fully paid: covered) -> terminated."""

    __tablename__ = "enrollments"
    __table_args__ = (UniqueConstraint("psn_no", "year", "insutype", name="uq_enrollment_person_year"),)

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    psn_no: str = Field(max_length=30, index=True, foreign_key="persons.psn_no")
    year: int
    insutype: str = Field(default="390", max_length=6)
    psn_type: str = Field(max_length=6)
    tier: str = Field(default="1", max_length=10)
    insuplc_admdvs: str = Field(max_length=6, index=True)
    status: str = Field(default="pending", max_length=12)
    #: regular (in the collection period), late (补缴), newborn, legacy (history from URBMI/NCMS).
    kind: str = Field(default="regular", max_length=12)
    coverage_begin: date
    coverage_end: date
    due_fen: int = Field(ge=0)
    paid_fen: int = Field(default=0, ge=0)
    subsidy_fen: int = Field(default=0, ge=0)
    enrolled_on: date
    activated_on: date | None = None
    terminated_on: date | None = None
    termination_reason: str | None = Field(default=None, max_length=30)
    created_at: datetime = timestamp_field()


class Payment(Base, table=True):
    """A contribution payment towards one enrollment (缴费), by one payer, with its receipt."""

    __tablename__ = "payments"
    __table_args__ = (UniqueConstraint("receipt_no", "enrollment_id", name="uq_payment_receipt"),)

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    enrollment_id: int = Field(sa_type=BigIntPK, foreign_key="enrollments.id", index=True)
    payer: str = Field(max_length=20)
    amount_fen: int = Field(gt=0)
    receipt_no: str = Field(max_length=40, index=True)
    paid_on: date
    created_at: datetime = timestamp_field()


class SubsidyAllocation(Base, table=True):
    """Government subsidy for one active enrollee, one row per level."""

    __tablename__ = "subsidy_allocations"
    __table_args__ = (UniqueConstraint("enrollment_id", "level", name="uq_subsidy_level"),)

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    enrollment_id: int = Field(sa_type=BigIntPK, foreign_key="enrollments.id", index=True)
    level: str = Field(max_length=12)
    amount_fen: int = Field(ge=0)
