from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.v1.enrollment import EnrollmentOut

Payer = Literal["individual", "medical_assistance", "village_collective", "employer"]
Reason = Literal["death", "moved_away", "employee_insurance"]


class PaymentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    payer: Payer
    amount_fen: int = Field(gt=0, le=100_000_000)
    receipt_no: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9\-_]+$")
    paid_on: date


class EnrollmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    psn_no: str = Field(min_length=1, max_length=30)
    year: int = Field(ge=2000, le=2100)
    insutype: str = Field(default="390", pattern=r"^390$")
    #: Pooling region; defaults to the person's.
    insuplc_admdvs: str | None = Field(default=None, pattern=r"^\d{6}$")
    #: Contribution tier an adult chooses; the lowest when omitted. Not used for children and students.
    tier: str | None = Field(default=None, pattern=r"^[A-Za-z0-9]{1,10}$")
    #: Payment collected at registration: must be exactly the contribution due.
    payment: PaymentIn | None = None


class LegacyEnrollmentIn(BaseModel):
    """A year of cover under a legacy scheme (URBMI 391 / NCMS 380) before the merger, for continuity."""

    model_config = ConfigDict(extra="forbid")

    year: int = Field(ge=1990, le=2100)
    insutype: str = Field(pattern=r"^(391|380)$")
    insuplc_admdvs: str = Field(pattern=r"^\d{6}$")
    paid_fen: int = Field(ge=0, le=10_000_00)


class TerminationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason
    effective_date: date


class PaymentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    enrollment_id: int
    payer: str
    amount_fen: int
    receipt_no: str
    paid_on: date


class CoverageOnDate(BaseModel):
    psn_no: str
    on: date
    covered: bool
    reason: str
    enrollment: EnrollmentOut | None
