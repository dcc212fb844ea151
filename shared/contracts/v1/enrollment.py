"""The enrollment service's API as the gateway calls it (version 1): the person lookup 1101 answers
from (``GET /api/v1/persons/lookup``). Enrollment's endpoints declare these models and the gateway's
``Downstream`` reads its answers into them; domain names, the wire's names are the gateway's.

Readers tolerate fields they do not know (pydantic's default), so enrollment may add a field without a
new version; a field removed or changed in meaning is ``shared.contracts.v2``."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict


class PersonOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    psn_no: str
    certno: str
    psn_cert_type: str
    psn_name: str
    gend: str
    brdy: date
    naty: str
    admdvs: str
    household_no: str | None
    relation: str | None


class IdentityOut(BaseModel):
    """A subsidised identity (人员身份类别, e.g. 2102 低保) over its dates."""

    model_config = ConfigDict(from_attributes=True)

    psn_idet_type: str
    begin_date: date
    end_date: date | None


class CardOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    card_no: str
    card_sn: str
    psn_no: str
    #: active, lost or replaced (only an active card may be used).
    status: str
    issued_on: date
    changed_on: date
    replaced_by: str | None


class EnrollmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    psn_no: str
    year: int
    insutype: str
    psn_type: str
    tier: str
    insuplc_admdvs: str
    #: pending (contributions not fully paid), active, or terminated.
    status: str
    kind: str
    coverage_begin: date
    coverage_end: date
    due_fen: int
    paid_fen: int
    subsidy_fen: int
    enrolled_on: date
    activated_on: date | None
    terminated_on: date | None
    termination_reason: str | None
    continuous_years: int = 0
    psn_insu_date: date | None = None


class PersonCoverage(BaseModel):
    """Everything 1101 needs about a person, in domain names (the gateway maps them to the wire)."""

    person: PersonOut
    age: int
    enrollments: list[EnrollmentOut]
    identities: list[IdentityOut]
    card: CardOut | None = None
