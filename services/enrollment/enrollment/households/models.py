from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field

from enrollment.db import Base
from shared.db import BigIntPK, timestamp_field


class Household(Base, table=True):
    """A household (户): residents other than students enroll by household."""

    __tablename__ = "households"

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    household_no: str = Field(max_length=30, unique=True, index=True)
    admdvs: str = Field(max_length=6, index=True)
    address: str = Field(default="", max_length=200)
    head_psn_no: str = Field(max_length=30)
    created_at: datetime = timestamp_field()


class School(Base, table=True):
    """A school whose students enroll through it (学校统一参保)."""

    __tablename__ = "schools"

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    school_code: str = Field(max_length=30, unique=True, index=True)
    name: str = Field(max_length=200)
    admdvs: str = Field(max_length=6)
    #: "primary_secondary" (中小学, psn_type 1403) or "college" (大学, 1404).
    kind: str = Field(max_length=20)
    created_at: datetime = timestamp_field()


class SchoolStudent(Base, table=True):
    """A student's registration with a school for an insurance year."""

    __tablename__ = "school_students"
    __table_args__ = (UniqueConstraint("psn_no", "year", name="uq_student_year"),)

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    school_code: str = Field(max_length=30, foreign_key="schools.school_code", index=True)
    psn_no: str = Field(max_length=30, foreign_key="persons.psn_no", index=True)
    year: int
    class_name: str = Field(max_length=50)
