from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from enrollment.enrollments.schemas import PaymentIn
from enrollment.persons.schemas import valid_certno, valid_name
from shared.contracts.v1.enrollment import EnrollmentOut, PersonOut

Relation = Literal["head", "spouse", "child", "parent", "grandchild", "other"]


class MemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    certno: str
    psn_name: str = Field(min_length=1, max_length=50)
    relation: Relation = "other"

    _certno = field_validator("certno")(valid_certno)
    _name = field_validator("psn_name")(valid_name)


class EnrollAll(BaseModel):
    """Enrol every member for a year; one payment covering everything due, or none (pay later)."""

    model_config = ConfigDict(extra="forbid")

    year: int = Field(ge=2000, le=2100)
    adult_tier: str | None = Field(default=None, pattern=r"^[A-Za-z0-9]{1,10}$")
    payment: PaymentIn | None = None


class HouseholdRegistration(BaseModel):
    model_config = ConfigDict(extra="forbid")

    household_no: str = Field(min_length=1, max_length=30, pattern=r"^[A-Za-z0-9\-]+$")
    admdvs: str = Field(pattern=r"^\d{6}$")
    address: str = Field(default="", max_length=200)
    members: list[MemberIn] = Field(min_length=1, max_length=50)
    enroll: EnrollAll | None = None

    @model_validator(mode="after")
    def _one_head(self) -> HouseholdRegistration:
        heads = [m for m in self.members if m.relation == "head"]
        if len(heads) != 1:
            raise ValueError("户内必须有且只有一名户主 (relation=head)")
        certnos = [m.certno for m in self.members]
        if len(set(certnos)) != len(certnos):
            raise ValueError("同一身份证号在户内重复出现")
        return self


class MemberStatus(BaseModel):
    person: PersonOut
    enrollment: EnrollmentOut | None


class HouseholdOut(BaseModel):
    household_no: str
    admdvs: str
    address: str
    head_psn_no: str
    year: int | None
    members: list[MemberStatus]
    due_fen: int
    paid_fen: int


class SchoolIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    school_code: str = Field(min_length=1, max_length=30, pattern=r"^[A-Za-z0-9\-]+$")
    name: str = Field(min_length=1, max_length=200)
    admdvs: str = Field(pattern=r"^\d{6}$")
    kind: Literal["primary_secondary", "college"]


class SchoolOut(SchoolIn):
    model_config = ConfigDict(from_attributes=True)


class StudentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    certno: str
    psn_name: str = Field(min_length=1, max_length=50)

    _certno = field_validator("certno")(valid_certno)
    _name = field_validator("psn_name")(valid_name)


class ClassRegistration(BaseModel):
    model_config = ConfigDict(extra="forbid")

    year: int = Field(ge=2000, le=2100)
    class_name: str = Field(min_length=1, max_length=50)
    students: list[StudentIn] = Field(min_length=1, max_length=500)
    payment: PaymentIn | None = None

    @model_validator(mode="after")
    def _unique(self) -> ClassRegistration:
        certnos = [s.certno for s in self.students]
        if len(set(certnos)) != len(certnos):
            raise ValueError("同一身份证号在班级名单中重复出现")
        return self


class BatchResult(BaseModel):
    persons: list[PersonOut]
    enrollments: list[EnrollmentOut]
