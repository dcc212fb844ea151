from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

OPERATOR_DOC = (
    "Deprecated, may be left out. Who acts is the bearer token's subject (recorded with its roles), never "
    "this field; if given it must equal the token's subject, else the request is refused "
    "(403 OPERATOR_MISMATCH)."
)
#: The name a request used to give for who acts. Kept so that older clients still work; checked against
#: the authenticated caller (``shared.auth.acting``), never recorded in its place.
Operator = Annotated[str | None, Field(min_length=1, max_length=100, pattern=r"\S", description=OPERATOR_DOC)]


def roles_list(value: Any) -> Any:
    """A record's stored roles (``"auditor,fund_accountant"``) as a list; None stays None (a row from
    before identities came from the token)."""
    if isinstance(value, str):
        return [r for r in value.split(",") if r]
    return value


#: The roles the acting token carried, as stored beside its subject.
Roles = Annotated[list[str] | None, BeforeValidator(roles_list)]


class RuleOut(BaseModel):
    code: str
    title: str
    enabled: bool
    params: dict[str, Any]
    at_settlement: bool
    in_batch: bool
    updated_by: str | None = None
    updated_roles: Roles = None
    updated_at: datetime | None = None


class RuleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    #: The rule's parameters; omitted ones keep their defaults.
    params: dict[str, Any] = Field(default_factory=dict)
    operator: Operator = None


class HitOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    rule_code: str
    subject_type: str
    subject: str
    setl_id: str | None
    found_by: str
    summary: str
    evidence: dict[str, Any]
    status: str
    reviewed_by: str | None
    reviewed_roles: Roles = None
    reviewed_at: datetime | None
    review_note: str | None
    detected_at: datetime


class HitReview(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["confirmed", "dismissed"]
    note: str = Field(min_length=1, max_length=500)
    operator: Operator = None


class ScanOut(BaseModel):
    day: date
    settlements_checked: int
    new_hits: int
    hits: list[HitOut]


SanctionKind = Literal["institution_suspension", "full_self_advance"]


class SanctionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: SanctionKind
    #: fixmedins_code for a suspension, psn_no for full self-advance.
    subject: str = Field(min_length=1, max_length=30)
    begin_date: date
    end_date: date | None = None
    reason: str = Field(min_length=2, max_length=500)
    hit_id: int | None = None
    document_ref: str | None = Field(default=None, max_length=100)
    operator: Operator = None

    @model_validator(mode="after")
    def _period(self) -> SanctionCreate:
        if self.end_date is not None and self.end_date < self.begin_date:
            raise ValueError("结束日期早于开始日期")
        return self


class SanctionEnd(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: The last day the sanction is in force.
    end_date: date
    reason: str = Field(min_length=2, max_length=500)
    operator: Operator = None


class SanctionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    subject: str
    begin_date: date
    end_date: date | None
    reason: str
    hit_id: int | None
    document_ref: str | None
    decided_by: str
    decided_roles: Roles = None
    ended_by: str | None
    ended_roles: Roles = None
    end_reason: str | None
    created_at: datetime


class AuditOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    operator: str
    roles: Roles = None
    action: str
    object_type: str
    object_id: str
    detail: str
