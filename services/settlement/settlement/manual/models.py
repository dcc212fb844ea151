"""Manual reimbursement (零星报销): a person who paid the whole bill - on full self-advance, treated out of
area without direct settlement, or in an emergency at a non-designated facility - brings the bills; a clerk
enters them, the adjudication engine computes the benefit, a second person approves, the fund pays the
person. Rows are never deleted; each step records who (the authenticated subject and roles) and when."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Column, Text
from sqlmodel import Field

from settlement.db import Base
from shared.db import AwareDateTime, BigIntPK, ExactDecimal, timestamp_field


class ManualReimbursement(Base, table=True):
    __tablename__ = "manual_reimbursements"

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    claim_no: str = Field(max_length=30, unique=True, index=True)
    psn_no: str = Field(max_length=30, index=True)
    insutype: str = Field(max_length=6)
    insuplc_admdvs: str = Field(max_length=6)
    #: full_self_advance, out_of_area, emergency.
    reason: str = Field(max_length=20)
    #: The treating facility as written on the bills (it may be outside the registry).
    fixmedins_code: str = Field(max_length=30)
    fixmedins_name: str = Field(max_length=200)
    institution_level: str = Field(max_length=3)
    #: pharmacy, outpatient, chronic, inpatient, maternity (the engine's kinds of care).
    encounter_kind: str = Field(max_length=12)
    clr_type: str = Field(max_length=6)
    out_of_area: bool = False
    filed: bool = False
    #: One claim per invoice: the same bill is never reimbursed twice.
    invono: str = Field(max_length=50, unique=True)
    begntime: datetime = Field(sa_column=Column(AwareDateTime(), nullable=False))
    endtime: datetime | None = Field(default=None, sa_column=Column(AwareDateTime(), nullable=True))
    medfee_sumamt_fen: int
    #: The bills as entered (fee lines, domain names).
    lines: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    extra: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    #: entered, approved, rejected, paid.
    status: str = Field(default="entered", max_length=10, index=True)
    policy_id: int
    policy_range_fen: int
    deductible_fen: int
    pool_ratio: Decimal = Field(sa_type=ExactDecimal(5, 4))
    pooled_fund_paid_fen: int
    catastrophic_paid_fen: int
    assistance_paid_fen: int
    fund_paid_total_fen: int
    #: What the person bears in the end (they paid everything; the fund pays the rest back).
    personal_burden_fen: int
    funds: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    calc_trace: str = Field(sa_column=Column(Text, nullable=False))
    #: What approval added to the person's year-to-date totals.
    ytd_delta: dict[str, int] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    #: Who did each step: the bearer token's subject, and its roles (sorted, comma-separated) when they
    #: acted. Roles are None on claims recorded before identities came from the token (the name was then
    #: typed into the request).
    entered_by: str = Field(max_length=100)
    entered_roles: str | None = Field(default=None, max_length=100)
    entered_at: datetime = timestamp_field()
    decided_by: str | None = Field(default=None, max_length=100)
    decided_roles: str | None = Field(default=None, max_length=100)
    decided_at: datetime | None = Field(default=None, sa_column=Column(AwareDateTime(), nullable=True))
    decision_note: str | None = Field(default=None, max_length=500)
    paid_by: str | None = Field(default=None, max_length=100)
    paid_roles: str | None = Field(default=None, max_length=100)
    paid_at: datetime | None = Field(default=None, sa_column=Column(AwareDateTime(), nullable=True))
    payment_ref: str | None = Field(default=None, max_length=60)
