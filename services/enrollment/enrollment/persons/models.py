from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Field

from enrollment.db import Base
from shared.db import BigIntPK, timestamp_field


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
    admdvs: str = Field(max_length=6)
    household_no: str | None = Field(default=None, max_length=30, index=True)
    #: Relation to the household head: head, spouse, child, parent, other.
    relation: str | None = Field(default=None, max_length=10)
    created_at: datetime = timestamp_field()


class IdentityCategory(Base, table=True):
    """A subsidised identity (特困, 低保...) with its validity; drives medical assistance (1101 idetinfo)."""

    __tablename__ = "identity_categories"

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    psn_no: str = Field(max_length=30, index=True, foreign_key="persons.psn_no")
    psn_idet_type: str = Field(max_length=6)
    begin_date: date
    end_date: date | None = None
    created_at: datetime = timestamp_field()


class EmployeeInsured(Base, table=True):
    """An ID number insured under employee insurance (职工医保), imported from its system: such a person may
    not hold resident insurance at the same time."""

    __tablename__ = "employee_insured"

    certno: str = Field(primary_key=True, max_length=18)
    insured_since: date
    imported_at: datetime = timestamp_field()
