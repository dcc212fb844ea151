from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from settlement.settlements.schemas import FeeLineIn
from settlement.supervision.schemas import Operator, Roles

Reason = Literal["full_self_advance", "out_of_area", "emergency"]


class ManualClaimCreate(BaseModel):
    """The bills of one visit, stay or purchase, as the clerk enters them."""

    model_config = ConfigDict(extra="forbid")

    psn_no: str = Field(min_length=1, max_length=30)
    insutype: str = Field(default="390", pattern=r"^(390|391|380)$")
    insuplc_admdvs: str = Field(pattern=r"^\d{6}$")
    reason: Reason
    fixmedins_code: str = Field(min_length=1, max_length=30)
    fixmedins_name: str = Field(min_length=1, max_length=200)
    institution_level: str = Field(pattern=r"^(1|2|3|9)$")
    encounter_kind: Literal["pharmacy", "outpatient", "chronic", "inpatient", "maternity"]
    out_of_area: bool = False
    filed: bool = False
    invono: str = Field(min_length=1, max_length=50)
    begntime: datetime
    endtime: datetime | None = None
    medfee_sumamt_fen: int = Field(ge=0)
    delivery_type: Literal["normal", "caesarean"] | None = None
    chronic_disease: str | None = Field(default=None, max_length=30)
    lines: list[FeeLineIn] = Field(min_length=1, max_length=500)
    operator: Operator = None

    @model_validator(mode="after")
    def _consistent(self) -> ManualClaimCreate:
        if self.begntime.tzinfo is None or (self.endtime is not None and self.endtime.tzinfo is None):
            raise ValueError("begntime/endtime 须带时区")
        if self.endtime is not None and self.endtime < self.begntime:
            raise ValueError("出院时间早于入院时间")
        if len({x.feedetl_sn for x in self.lines}) != len(self.lines):
            raise ValueError("费用明细流水号重复")
        if self.reason == "out_of_area" and not self.out_of_area:
            raise ValueError("异地就医报销须标明 out_of_area")
        return self


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "reject"]
    note: str = Field(min_length=1, max_length=500)
    operator: Operator = None


class Payment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    payment_ref: str = Field(min_length=1, max_length=60, description="the bank transfer's reference")
    operator: Operator = None


class ManualClaimOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    claim_no: str
    psn_no: str
    insutype: str
    insuplc_admdvs: str
    reason: str
    fixmedins_code: str
    fixmedins_name: str
    institution_level: str
    encounter_kind: str
    clr_type: str
    out_of_area: bool
    invono: str
    begntime: datetime
    endtime: datetime | None
    medfee_sumamt_fen: int
    status: str
    policy_range_fen: int
    deductible_fen: int
    pool_ratio: Decimal
    pooled_fund_paid_fen: int
    catastrophic_paid_fen: int
    assistance_paid_fen: int
    fund_paid_total_fen: int
    personal_burden_fen: int
    funds: list[dict[str, Any]]
    calc_trace: str
    entered_by: str
    entered_roles: Roles = None
    entered_at: datetime
    decided_by: str | None
    decided_roles: Roles = None
    decided_at: datetime | None
    decision_note: str | None
    paid_by: str | None
    paid_roles: Roles = None
    paid_at: datetime | None
    payment_ref: str | None
